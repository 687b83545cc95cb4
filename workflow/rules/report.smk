# The report's Configuration section: the config this run used, after the schema's defaults.


rule effective_config:
    """The effective configuration (every key, defaults filled in) as one YAML file."""
    output:
        report(L.effective_config(), caption="../report/config.rst", category="Configuration"),
    log:
        L.log("report/config"),
    conda:
        "../../envs/analysis.yaml"
    params:
        config=config,  # it is the config: any change rewrites it (nothing depends on it)
    script:
        "../scripts/effective_config.py"
