"""Run a workflow script by hand, outside Snakemake: `mock_snakemake` builds the `snakemake` object
a rule's script would get (input, output, params, wildcards, log, threads, config) from the real
Snakefile, so a script can be run, debugged or profiled alone:

    if "snakemake" not in globals():          # at the top of a script
        from synpretrain.mock import mock_snakemake
        snakemake = mock_snakemake("label_chunk", dataset="c-synth", labeller="lcbop", split="val", chunk=0)

or `python workflow/scripts/label_chunk.py dataset=c-synth labeller=lcbop split=val chunk=0` (add
`configfile=FILE` for another config) from the folder that holds results/.  It
reads Snakemake's internals (the workflow, a DAG, a job), as PyPSA-Eur's helper of the same name
does; tests/test_mock.py checks it against this Snakemake version.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wildcards_from_argv(argv: list[str]) -> dict[str, str]:
    """`key=value` command-line words -> wildcards (and `configfile=FILE`)."""
    pairs = [arg.split("=", 1) for arg in argv]
    bad = [arg for arg, pair in zip(argv, pairs) if len(pair) != 2]
    if bad:
        raise SystemExit(f"wildcards are given as key=value, not {' '.join(bad)}")
    return dict(pairs)


def mock_snakemake(rule: str, configfiles: list[str | os.PathLike] | None = None,
                   workdir: str | os.PathLike | None = None, **wildcards):
    """The `snakemake` object of `rule`'s job for these wildcards, from the repository's Snakefile
    (`configfiles`: instead of the default config; `workdir`: where results/ is, default here)."""
    from snakemake.api import SnakemakeApi
    from snakemake.dag import DAG
    from snakemake.jobs import Job
    from snakemake.script import Snakemake
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

    workdir = Path(workdir or os.getcwd()).resolve()
    configs = [Path(c).resolve() for c in configfiles or []]
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(resource_settings=ResourceSettings(cores=1),
                                    config_settings=ConfigSettings(configfiles=configs),
                                    snakefile=REPO / "Snakefile", workdir=workdir)
        workflow = workflow_api._workflow
        workflow.dag_settings = DAGSettings()      # what `snakemake` would set before building a DAG
        found = workflow.get_rule(rule)
        missing = set(found.wildcard_names) - set(wildcards)
        if missing:
            raise ValueError(f"rule {rule} needs the wildcards {sorted(missing)}")
        job = Job(found, DAG(workflow, rules=[found]), {key: str(value) for key, value in wildcards.items()})
        return Snakemake(job.input, job.output, job.params, job.wildcards, job.threads, job.resources,
                         job.log, workflow.config, rule, None)


def script_main(rule: str):
    """`mock_snakemake` for a script run as `python workflow/scripts/<x>.py [configfile=FILE] key=value ...`
    from the folder that holds (or will hold) results/."""
    wildcards = wildcards_from_argv(sys.argv[1:])
    configfile = wildcards.pop("configfile", None)
    print(f"{rule}: run by hand with {wildcards}" + (f", config {configfile}" if configfile else ""), flush=True)
    return mock_snakemake(rule, configfiles=[configfile] if configfile else None, **wildcards)
