#!/bin/sh
# Forward pass against an outside reference: tests/torch_ref.py (Debian's python3-torch, float64)
# rebuilds GPT-2 from the same safetensors file; logits must agree to a relative error of 1e-4 on
# two random checkpoints (tiny, and the 124M shape), several batch shapes, soft-prompt inputs,
# KV-cached prefixes, shared prefixes and token-by-token generation.
set -eu
PY=/usr/bin/python3
if ! $PY -c 'import torch, numpy' 2>/dev/null; then
    echo "python3-torch is not installed for $PY (.ci/run installs it)"; exit 77
fi
GPT2="$BINDIR/gpt2"
TOOL="$BUILD/tests/tool_forward_cases"

check() { # name init-args... ; tool args come from $EXTRA
    name=$1; shift
    "$GPT2" init "$@" --seed 11 --tokenizer "$TOKENIZER_DIR" --out "$TMP/$name" >/dev/null
    mkdir -p "$TMP/$name.cases"
    "$TOOL" "$TMP/$name" "$TMP/$name.cases" --seed 5 $EXTRA
    $PY tests/torch_ref.py compare --model "$TMP/$name" --cases "$TMP/$name.cases/cases.json" --tol 1e-4
    rm -rf "$TMP/$name" "$TMP/$name.cases"
}

# GPT-2's own init scale hides small mistakes (an erf GELU instead of tanh moves the logits by
# ~1e-6), so the tiny model is "hot": weights N(0, 0.3), and biases and layer norms noisy.
EXTRA="" check tiny-hot --layers 3 --heads 4 --embd 64 --positions 128 --std 0.3 --test-noise 0.3
EXTRA="" check tiny --layers 2 --heads 4 --embd 64 --positions 128 --test-noise 0.05
EXTRA="--big" check gpt2-124M-shape --layers 12 --heads 12 --embd 768 --positions 1024 --test-noise 0.05
