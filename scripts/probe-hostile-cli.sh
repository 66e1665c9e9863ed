#!/usr/bin/env bash
# Hostile and clumsy command lines against the built fastbert (issue 13,
# command side): outputs that are inputs, numbers out of range, damaged
# resume state, sizes beyond the model or the machine, silently ambiguous
# input, unclear messages. Every case must end in a clear error (exit 1-127,
# an "error:" or "--option:" line, no "stoll"/"max_size"/"terminate"), never
# a crash (signal, exit >= 128), and leave every input file byte-identical.
# Prints one table row per category (PROBE_VERBOSE=1: also each case's
# message). Usage: scripts/probe-hostile-cli.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
fb="$PWD/$build/cli/fastbert"
[[ -x $fb ]] || { echo "no $fb: build first" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fastbert-probe-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

declare -A tried clear crashed lost
order=()
failures=()

snapshot() { find in -type f -print0 | sort -z | xargs -0 md5sum 2>/dev/null; }

# probe CATEGORY COMMAND...: the command must be refused clearly, inputs intact.
probe() {
  local category=$1
  shift
  [[ -v tried[$category] ]] || { order+=("$category"); tried[$category]=0 clear[$category]=0 crashed[$category]=0 lost[$category]=0; }
  tried[$category]=$((tried[$category] + 1))
  local before after out rc
  before=$(snapshot)
  out=$(timeout 120 "$@" 2>&1)
  rc=$?
  after=$(snapshot)
  [[ -n ${PROBE_VERBOSE:-} ]] && printf '[%s] rc=%d %s\n    -> %s\n' "$category" "$rc" "${*#"$fb" }" "$(grep -m1 -E '^(error: |--)' <<<"$out" | head -c 400)"
  if ((rc >= 124)); then
    crashed[$category]=$((crashed[$category] + 1))
    failures+=("CRASH/TIMEOUT rc=$rc: $*")
  elif grep -qE 'no such (recipe )?file|training executable not found' <<<"$out"; then
    failures+=("PROBE SET-UP BROKEN (the case never reached its check): $* -> $(head -c 300 <<<"$out")")
  elif ((rc != 0)) && grep -qE '^(error: |--[a-z-]+: )' <<<"$out" && ! grep -qE 'stoll|max_size|terminate called' <<<"$out"; then
    clear[$category]=$((clear[$category] + 1))
  else
    failures+=("UNCLEAR rc=$rc: $* -> $(head -c 300 <<<"$out")")
  fi
  if [[ $before != "$after" ]]; then
    lost[$category]=$((lost[$category] + 1))
    failures+=("DATA CHANGED: $*")
  fi
}

# ---------------------------------------------------------------- inputs
mkdir -p in
"$fb" make-demo --out in/demo --train-articles 2 --dev-articles 1 >/dev/null
m=in/demo/model
"$fb" prepare --data in/demo/train.json --tokenizer "$m" --out in/train.h5 --max-seq 64 --doc-stride 32 --max-query 16 >/dev/null
python3 - <<'EOF'
import json, struct, os
# A checkpoint with weights, written without LibTorch: the demo config and random safetensors.
cfg = json.load(open("in/demo/model/config.json"))
h, i, L, v, p = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["max_position_embeddings"]
shapes = {"bert.embeddings.word_embeddings.weight": [v, h], "bert.embeddings.position_embeddings.weight": [p, h],
          "bert.embeddings.token_type_embeddings.weight": [2, h], "bert.embeddings.LayerNorm.weight": [h],
          "bert.embeddings.LayerNorm.bias": [h], "qa_outputs.weight": [2, h], "qa_outputs.bias": [2]}
for l in range(L):
    pre = f"bert.encoder.layer.{l}."
    for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
        shapes[pre + n + ".weight"] = [h, h]; shapes[pre + n + ".bias"] = [h]
    shapes[pre + "intermediate.dense.weight"] = [i, h]; shapes[pre + "intermediate.dense.bias"] = [i]
    shapes[pre + "output.dense.weight"] = [h, i]; shapes[pre + "output.dense.bias"] = [h]
    for n in ["attention.output.LayerNorm", "output.LayerNorm"]:
        shapes[pre + n + ".weight"] = [h]; shapes[pre + n + ".bias"] = [h]
header, blobs, off = {}, [], 0
import random
random.seed(1)
for name, s in shapes.items():
    n = 1
    for d in s: n *= d
    vals = [1.0 if name.endswith("LayerNorm.weight") else random.uniform(-0.05, 0.05) for _ in range(n)]
    b = struct.pack(f"<{n}f", *vals)
    header[name] = {"dtype": "F32", "shape": s, "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
hb = json.dumps(header).encode()
os.makedirs("in/ckpt", exist_ok=True)
open("in/ckpt/model.safetensors", "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
for f in ["config.json", "vocab.txt", "tokenizer_config.json"]:
    open("in/ckpt/" + f, "wb").write(open("in/demo/model/" + f, "rb").read())
EOF
"$fb" export --checkpoint in/ckpt --out in/m.fbm --precision fp32 >/dev/null
ln -s "$PWD/in/demo/dev.json" in/dev-link.json
ln in/m.fbm in/m-hardlink.fbm
dev=in/demo/dev.json

# ------------------------------------------------ 3: outputs that are inputs
c="outputs that are inputs"
probe "$c" "$fb" export --checkpoint in/ckpt --out in/ckpt/model.safetensors --precision fp32
probe "$c" "$fb" export --checkpoint in/ckpt --out in/ckpt/../ckpt/config.json --precision fp32
probe "$c" "$fb" export --checkpoint in/ckpt --out in/ckpt/vocab.txt --precision int8 --calibration-data in/train.h5
probe "$c" "$fb" export --checkpoint in/ckpt --out in/train.h5 --precision int8 --calibration-data in/train.h5
probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --predictions-out "$dev"
probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --predictions-out in/dev-link.json
probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --predictions-out in/m.fbm
probe "$c" "$fb" eval squad --data "$dev" --model in/ckpt --predictions-out in/ckpt/model.safetensors
probe "$c" "$fb" eval squad --data "$dev" --features in/train.h5 --logits in/train.h5 --predictions-out in/train.h5
probe "$c" "$fb" prepare --data "$dev" --tokenizer "$m" --out "$dev"
probe "$c" "$fb" prepare --data "$dev" --tokenizer "$m" --out "$m/vocab.txt"
probe "$c" "$fb" prepare --data "$dev" --tokenizer "$m/vocab.txt" --out "$PWD/$m/./vocab.txt"
probe "$c" "$fb" prepare --data "$dev" --tokenizer "$m" --out in/dev-link.json
probe "$c" "$fb" bench model --model in/m.fbm --json in/m.fbm --min-seconds 0 --rounds 1
probe "$c" "$fb" bench model --model x=in/m.fbm --json in/m-hardlink.fbm --min-seconds 0 --rounds 1
probe "$c" "$fb" bench kernels --shape 64x64 --m 8 --csv in/k.out --plot in/./k.out
echo '{"mine": 1}' >in/demo/train.json.mine && cp in/demo/train.json.mine in/demo/train.json
probe "$c" "$fb" make-demo --out in/demo --train-articles 2 --dev-articles 1
probe "$c" "$fb" make-demo --out in/demo --seed 7

# ------------------------------------------------ 6: numbers out of range
c="numbers out of range"
for t in 100000 -1 99999999999999999999 abc; do
  probe "$c" "$fb" prepare --data "$dev" --tokenizer "$m" --out "$work/o.h5" --threads "$t"
  probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --threads "$t"
  probe "$c" "$fb" bench model --model in/m.fbm --threads "$t"
  probe "$c" "$fb" bench kernels --shape 64x64 --m 8 --threads "$t"
done
for v in 0 -1 99999999999999999999; do
  probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --n-best "$v"
  probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --max-answer-length "$v"
  probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --batch-size "$v"
  probe "$c" "$fb" bench model --model in/m.fbm --batch "$v"
  probe "$c" "$fb" bench model --model in/m.fbm --seq "$v"
  probe "$c" "$fb" bench model --model in/m.fbm --rounds "$v"
  probe "$c" "$fb" bench kernels --shape 64x64 --m "$v"
  probe "$c" "$fb" bench kernels --shape 64x64 --repeats "$v"
  probe "$c" "$fb" prepare --data "$dev" --tokenizer "$m" --out "$work/o.h5" --doc-stride "$v"
  probe "$c" "$fb" export --checkpoint in/ckpt --out "$work/o.fbm" --calibration-windows "$v" --calibration-data in/train.h5
  probe "$c" "$fb" make-demo --out "$work/d" --train-articles "$v"
done
probe "$c" "$fb" bench model --model in/m.fbm --min-seconds -1
probe "$c" "$fb" bench model --model in/m.fbm --min-seconds nan
probe "$c" "$fb" export --checkpoint in/ckpt --out "$work/o.fbm" --sparse-threshold 1.5
probe "$c" "$fb" export --checkpoint in/ckpt --out "$work/o.fbm" --sparse-threshold nan

# recipes: every integer key out of range, before any work
recipe() {  # recipe FILE KEY_LINES...: the demo recipe on in/, with extra or replaced lines
  local file=$1
  shift
  {
    echo "model: demo/model"
    echo "output: $work/run"
    echo "data:"
    echo "  train: train.h5"
    echo "  max_seq: ${MAX_SEQ:-64}"
    echo "  doc_stride: 32"
    echo "  max_query: 16"
    echo "stages:"
    echo "  - name: finetune"
    for line in "$@"; do echo "    $line"; done
  } >"in/$file"
}
recipe own.yaml "epochs: 1"  # 3: a run whose output would replace its own starting model
mkdir -p in/own-run && cp -r in/demo/model in/own-run/final
sed -i "s|model: demo/model|model: own-run/final|; s|output: .*|output: own-run|" in/own.yaml
probe "outputs that are inputs" "$fb" train in/own.yaml
n=0
for kv in "epochs: 9223372036854775807" "epochs: 0" "batch_size: 9223372036854775807" "batch_size: -3" \
  "grad_accum: 99999999999999999999" "warmup: 99999999999999999999" "max_steps: -1" "seed: -1" \
  "save_every_steps: 0" "log_every_steps: 99999999999999999999" \
  "prune: {block: [99999999999999999999, 1], target_sparsity: 0.5}" "prune: {block: [0, 1], target_sparsity: 0.5}" \
  "distill: {teacher: demo/model, hidden_mse: {layer_map: [[99999999999999999999, 1]]}}" \
  "quantize: {calibration_batches: 0}"; do
  n=$((n + 1))
  recipe "r$n.yaml" "$kv"
  probe "$c" "$fb" train "in/r$n.yaml"
done
for t in 100000000 -1; do
  n=$((n + 1))
  recipe "r$n.yaml" "epochs: 1"
  sed -i "1a threads: $t" "in/r$n.yaml"
  probe "$c" "$fb" train "in/r$n.yaml"
done
probe "$c" "$fb" train in/r1.yaml --threads 100000
probe "$c" "$fb" train in/r1.yaml --stop-after-steps -1
probe "$c" "$fb" train in/r1.yaml --nproc 0
probe "$c" "$fb" train in/r1.yaml --nproc 100000
probe "$c" "$fb" train in/r1.yaml --backend mpi
probe "$c" "$fb" train in/r1.yaml --device cuda
probe "$c" env WORLD_SIZE=2 "$fb" train in/r1.yaml
probe "$c" env WORLD_SIZE=2 RANK=5 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 "$fb" train in/r1.yaml

# ------------------------------------------------ 4: damaged resume state
c="damaged resume state"
recipe resume.yaml "epochs: 2" "batch_size: 4" "save_every_steps: 1" "log_every_steps: 1"
sed -i "s|output: .*|output: $work/in/resume-run|" in/resume.yaml
"$fb" train in/resume.yaml --threads 1 --stop-after-steps 2 >/dev/null 2>&1
ck=in/resume-run/checkpoint-last
if [[ -f $ck/trainer_state.json ]]; then
  cp -r "$ck" "$work/pristine"
  restore() { rm -rf "$ck" && cp -r "$work/pristine" "$ck"; }
  rm "$ck/model.safetensors"
  probe "$c" "$fb" train in/resume.yaml --threads 1
  for step in -5 1e9 1000000000 2.5 '"x"' 18446744073709551615; do
    restore
    python3 -c "import json,sys; p='$ck/trainer_state.json'; j=json.load(open(p)); j['step']=json.loads(sys.argv[1]); json.dump(j,open(p,'w'))" "$step"
    probe "$c" "$fb" train in/resume.yaml --threads 1
  done
  for field in stage num_windows examples_seen; do
    restore
    python3 -c "import json; p='$ck/trainer_state.json'; j=json.load(open(p)); j['$field']=-1; json.dump(j,open(p,'w'))"
    probe "$c" "$fb" train in/resume.yaml --threads 1
  done
  restore
  python3 -c "import json; p='$ck/trainer_state.json'; j=json.load(open(p)); j['losses']=[[1.0]]; json.dump(j,open(p,'w'))"
  probe "$c" "$fb" train in/resume.yaml --threads 1
  restore
  python3 -c "import json; p='$ck/config.json'; j=json.load(open(p)); j['intermediate_size']=128; json.dump(j,open(p,'w'))"
  probe "$c" "$fb" train in/resume.yaml --threads 1
  restore
  head -c 100 "$work/pristine/optimizer.pt" >"$ck/optimizer.pt"
  probe "$c" "$fb" train in/resume.yaml --threads 1
  restore
  rm "$ck/optimizer.pt"
  probe "$c" "$fb" train in/resume.yaml --threads 1
  restore
else
  failures+=("resume: the tiny run left no checkpoint (no training side built?)")
fi

# ------------------------------------------------ 7: sizes beyond the model or the machine
c="sizes beyond model or machine"
MAX_SEQ=100000 recipe big1.yaml "epochs: 1"
MAX_SEQ=1024 recipe big2.yaml "epochs: 1"
sed -i 's|train: train.h5|train: demo/train.json|' in/big1.yaml in/big2.yaml
probe "$c" "$fb" train in/big1.yaml
probe "$c" "$fb" train in/big2.yaml
probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --max-seq 100000
probe "$c" "$fb" eval squad --data "$dev" --model in/m.fbm --max-seq 4096
probe "$c" "$fb" eval squad --data "$dev" --model in/ckpt --max-seq 4096
probe "$c" "$fb" bench model --model in/m.fbm --batch 100000
probe "$c" "$fb" bench model --model in/m.fbm --seq 4096
probe "$c" "$fb" bench model --model in/m.fbm --batch 65536 --seq 256
probe "$c" "$fb" bench kernels --shape 100000x100000 --m 128
probe "$c" "$fb" bench kernels --shape 1048576x1048576 --m 1
probe "$c" "$fb" bench kernels --shape 99999999999x1 --m 1
probe "$c" "$fb" bench kernels --shape 4096x4096 --m 1048576

# ------------------------------------------------ 8: silently ambiguous input
c="silently wrong results"
python3 - <<'EOF'
import json
d = json.load(open("in/demo/dev.json"))
paras = [p for a in d["data"] for p in a["paragraphs"]]
paras[1]["qas"][0]["id"] = paras[0]["qas"][0]["id"]
json.dump(d, open("in/dup-ids.json", "w"))
EOF
probe "$c" "$fb" eval squad --data in/dup-ids.json --model in/m.fbm
probe "$c" "$fb" prepare --data in/dup-ids.json --tokenizer "$m" --out "$work/o.h5"
probe "$c" "$fb" eval squad --data in/dup-ids.json --predictions in/dup-ids.json
recipe dup1.yaml "epochs: 1" "epochs: 3"
recipe dup2.yaml "epochs: 1"
sed -i '1a output: elsewhere' in/dup2.yaml
recipe dup3.yaml "epochs: 1"
sed -i 's|  max_seq: 64|  max_seq: 64\n  max_seq: 32|' in/dup3.yaml
for r in dup1 dup2 dup3; do probe "$c" "$fb" train "in/$r.yaml"; done
if grep -qw amx_tile /proc/cpuinfo; then
  failures+=("FASTBERT_ISA=amx: this CPU has AMX, the refusal is not probed")
else
  probe "$c" env FASTBERT_ISA=amx "$fb" bench kernels --shape 64x64 --m 8 --repeats 1
  probe "$c" env FASTBERT_ISA=amx "$fb" eval squad --data "$dev" --model in/m.fbm --max-seq 128
  probe "$c" env FASTBERT_ISA=amx "$fb" bench model --model in/m.fbm --seq 128 --batch 1 --rounds 1 --min-seconds 0
fi

# ------------------------------------------------ report
printf '\n| category | cases tried | clear errors | crashes | data lost |\n|---|---|---|---|---|\n'
total=(0 0 0 0)
for cat in "${order[@]}"; do
  printf '| %s | %d | %d | %d | %d |\n' "$cat" "${tried[$cat]}" "${clear[$cat]}" "${crashed[$cat]}" "${lost[$cat]}"
  total=($((total[0] + tried[$cat])) $((total[1] + clear[$cat])) $((total[2] + crashed[$cat])) $((total[3] + lost[$cat])))
done
printf '| total | %d | %d | %d | %d |\n' "${total[@]}"
if ((${#failures[@]})); then
  printf '\n%s\n' "${failures[@]}"
  exit 1
fi
