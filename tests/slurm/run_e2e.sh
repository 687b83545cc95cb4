#!/usr/bin/env bash
# `snakemake --profile slurm` for real, on a one-node SLURM cluster started here (CI step; run as
# root on Debian: bash tests/slurm/run_e2e.sh). Checks:
#   - the run reaches Table 1 through SLURM;
#   - training jobs asked for one GPU (--gres=gpu:1), labelling jobs for none;
#   - CPUs per job are the rules' threads (config threads_per_job), not a profile default;
#   - packs: the two direct-training jobs (jobs_per_gpu: 2) ran side by side inside ONE allocation
#     that asked for one GPU (same SLURM job id, overlapping epochs), and so did the two fine-tunes;
#   - that pack, killed by its 2-minute time limit, was resubmitted and both jobs resumed from
#     last.ckpt, and finished.
# Everything is bounded by timeouts; the daemons it started are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=$(mktemp -d /tmp/synpretrain-slurm-e2e.XXXX)
cluster=$work/cluster
bash tests/slurm/cluster.sh install
trap 'bash tests/slurm/cluster.sh stop "$cluster"' EXIT
eval "export $(bash tests/slurm/cluster.sh start "$cluster" | tail -1)"
export PATH="$repo/.venv/bin:$PATH"
sinfo

log=$work/snakemake.log
status=0
# targets first: --set-resources and --default-resources take every word after them
timeout -k 30 1200 snakemake results/tables/table1.csv --profile slurm --configfile tests/data/slurm.yaml --directory "$work/run" \
  --verbose --jobs 4 --slurm-init-seconds-before-status-checks 5 \
  --set-resources pretrain:slurm_partition=gpu finetune:slurm_partition=gpu direct:slurm_partition=gpu \
                  gpu_pack:slurm_partition=gpu \
  --default-resources slurm_partition=cpu runtime=10 mem_mb=1000 > "$log" 2>&1 || status=$?
tail -n 30 "$log"
fail() { echo "SLURM e2e FAILED: $*" >&2; exit 1; }
[ "$status" -eq 0 ] || fail "snakemake exited with $status (log: $log)"
[ -s "$work/run/results/tables/table1.csv" ] || fail "no Table 1"
grep "sbatch call" "$log" > "$work/sbatch.txt" || fail "no sbatch calls logged"
for rule in pretrain finetune direct; do     # the comment carries rule_<name> (rule_<pack>_<rules> for a pack)
  grep "rule_${rule}" "$work/sbatch.txt" | grep -- "--gres=gpu:1" >/dev/null || fail "$rule was not submitted with --gres=gpu:1"
done
grep -q -- "--gpus=" "$work/sbatch.txt" && fail "a job asked for GPUs by count (a pack must ask for one GPU)"
for pack in direct-0 finetune-0; do
  grep "rule_${pack}_" "$work/sbatch.txt" | grep -- "--gres=gpu:1" >/dev/null || fail "pack $pack was not one allocation with one GPU"
done
if grep "rule_label_chunk" "$work/sbatch.txt" | grep -- "--gres\|--gpus" >/dev/null; then fail "a labelling job asked for a GPU"; fi
# CPUs come from `threads` alone (threads_per_job: 1; no cpus_per_task in the profile, which the
# plugin would take over `threads`: test_workflow.py checks the profile): a group asks for the
# threads of its jobs that run at once (its record runs after them): a pack of two 2, the lone
# pre-training's pack 1
grep "rule_direct-0_" "$work/sbatch.txt" | grep -- "--cpus-per-task=2" >/dev/null || fail "the direct pack did not get 2 x 1 CPUs"
grep "rule_pretrain-0_" "$work/sbatch.txt" | grep -- "--cpus-per-task=1" >/dev/null || fail "pre-training did not get threads_per_job CPUs"
grep "rule_label_chunk" "$work/sbatch.txt" | grep -- "--cpus-per-task=1" >/dev/null || fail "a labelling job did not get 1 CPU"
grep "rule_label_chunk" "$work/sbatch.txt" >/dev/null || fail "no labelling job was submitted"
# a job's log is rewritten by each attempt: the last one resumed from last.ckpt, or (killed after its
# training had finished) restored the finished model; the CSV logs below show the resumed attempts
for seed in 1 2; do
  grep -q "resuming from\|restored the finished model" "$work"/run/results/logs/train/direct/c-real/n4/seed$seed.log \
    || fail "direct-training job $seed neither resumed nor restored its model"
done
python - "$work/run" <<'PY'
import json, sys
from pathlib import Path
import yaml
run = Path(sys.argv[1])
epochs = yaml.safe_load(Path("tests/data/slurm.yaml").read_text())["training"]["direct"]["max_epochs"]
# packs: two jobs, one SLURM job, running at the same time
for pack in ("direct-0", "finetune-0"):
    record = json.loads((run / f"results/packs/{pack}.json").read_text())
    ids = {m["slurm_job_id"] for m in record["members"]}
    assert record["jobs"] == 2 and len(ids) == 1 and None not in ids, record
    assert record["overlap_s"] > 0, record
    print(f"pack {pack}: 2 jobs in SLURM job {ids.pop()}, side by side for {record['overlap_s']} s")
direct = [json.loads((run / f"results/models/direct/c-real/n4/seed{s}/timings.jsonl").read_text().splitlines()[-1])
          for s in (1, 2)]
print("last epochs ended at", [d["unix_time"] for d in direct])
import pandas as pd
for seed in (1, 2):
    model = run / f"results/models/direct/c-real/n4/seed{seed}"
    summary = json.loads((model / "training.json").read_text())
    assert summary["epochs"] == epochs, summary
    # every attempt logs to its own csv/version_<k>; a resumed one starts after epoch 0
    firsts = [int(pd.read_csv(f)["epoch"].min()) for f in sorted(model.glob("csv/version_*/metrics.csv"))]
    assert len(firsts) >= 2 and firsts[0] == 0 and all(0 < f < epochs for f in firsts[1:]), firsts
    print(f"direct seed {seed}: attempts started at epochs", firsts)
print("direct training finished after resuming:", {k: summary[k] for k in ("epochs", "best_epoch", "wall_time_s")})
PY
echo "SLURM e2e passed (work dir $work)"
