#!/bin/sh
# tests/t_gpt2_tool.sh: the gpt2 program end to end on a tiny random checkpoint.
#   help and usage errors (exit 0 / 2), init (deterministic, --force, missing tokenizer),
#   info, score (table, --json, stdin, consistency with logits), generate (deterministic,
#   greedy, --max-tokens 0), logits (file sizes), bad checkpoints (exit 1, one-line message).
# Env from tests/run.sh: ROOT, BINDIR, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
V=50257

[ -x "$GPT2" ] || { echo "FAIL: $GPT2 is not built"; exit 1; }
need_tokenizer
need_python "to check JSON and logits"

# ---------------------------------------------------------------------------
# help and usage errors

expect 0 "gpt2 --help" "$GPT2" --help && { grep -q '^usage: gpt2' "$TMP/out" || fail "gpt2 --help prints no usage"; }
for cmd in init score generate logits info; do
    expect 0 "gpt2 $cmd --help" "$GPT2" $cmd --help &&
        { grep -q "^usage: gpt2 $cmd" "$TMP/out" || fail "gpt2 $cmd --help prints no usage on stdout"; }
done
"$GPT2" init --help | grep -q 'sqrt(2L)' || fail "init --help does not mention the c_proj scaling"

M=$TMP/m
usage_error() { # description command...: exit 2 and a hint on stderr
    what=$1; shift
    expect 2 "$what" "$@" && { grep -q -- '--help' "$TMP/err" || fail "$what: no hint on stderr"; }
}
usage_error "no command" "$GPT2"
usage_error "unknown command" "$GPT2" frobnicate
usage_error "init without --out" "$GPT2" init --layers 2 --heads 2 --embd 64 --seed 1
usage_error "init with a bad number" "$GPT2" init --layers two --heads 2 --embd 64 --seed 1 --out "$M"
usage_error "init with embd % heads != 0" "$GPT2" init --layers 2 --heads 3 --embd 64 --seed 1 --out "$M"
usage_error "init with a negative seed" "$GPT2" init --layers 2 --heads 2 --embd 64 --seed -1 --out "$M"
usage_error "init with an unknown option" "$GPT2" init --layers 2 --heads 2 --embd 64 --seed 1 --out "$M" --bogus
usage_error "option without its value" "$GPT2" init --layers 2 --heads 2 --embd 64 --seed 1 --out
usage_error "generate with a bad --top-k" "$GPT2" generate --model "$M" --top-k x "hi"
usage_error "generate with a negative temperature" "$GPT2" generate --model "$M" --temperature -1 "hi"
usage_error "score without a text" "$GPT2" score --model "$M"
usage_error "score with two texts" "$GPT2" score --model "$M" "a" "b"
usage_error "logits without --out" "$GPT2" logits --model "$M" "hi"
usage_error "logits with a bad --ids" "$GPT2" logits --model "$M" --out "$TMP/l" --ids 1,x
usage_error "info without --model" "$GPT2" info

# ---------------------------------------------------------------------------
# init

# 256 positions: room for a text longer than one 128-position scoring chunk
TINY="--layers 2 --heads 2 --embd 64 --positions 256 --tokenizer $TOKENIZER_DIR"
expect 0 "init seed 1" "$GPT2" init $TINY --seed 1 --test-noise 0.05 --out "$TMP/a" || { echo "init failed: stopping"; exit 1; }
expect 0 "init seed 1 again" "$GPT2" init $TINY --seed 1 --test-noise 0.05 --out "$TMP/b"
expect 0 "init seed 2" "$GPT2" init $TINY --seed 2 --test-noise 0.05 --out "$TMP/c"
expect 0 "init seed 1 without test noise" "$GPT2" init $TINY --seed 1 --out "$TMP/d"
cmp -s "$TMP/a/model.safetensors" "$TMP/b/model.safetensors" && ok "same seed, identical model.safetensors" ||
    fail "same seed gives different model.safetensors"
cmp -s "$TMP/a/config.json" "$TMP/b/config.json" || fail "same options give different config.json"
cmp -s "$TMP/a/model.safetensors" "$TMP/c/model.safetensors" && fail "seeds 1 and 2 give identical weights" ||
    ok "different seed, different weights"
cmp -s "$TMP/a/model.safetensors" "$TMP/d/model.safetensors" && fail "--test-noise changes nothing" ||
    ok "--test-noise changes the weights"
[ -f "$TMP/a/vocab.json" ] || [ -f "$TMP/a/encoder.json" ] || fail "init did not copy the tokenizer"
size=$(wc -c <"$TMP/a/model.safetensors")
# 2 layers, C 64, 256 positions, V 50257: (V + 256) C + 2 (12 C^2 + 13 C) + 2 C floats
params=$(( (V + 256) * 64 + 2 * (12 * 64 * 64 + 13 * 64) + 2 * 64 ))
[ "$size" -gt $((params * 4)) ] && [ "$size" -lt $((params * 4 + 65536)) ] ||
    fail "model.safetensors is $size bytes for $params F32 parameters"

expect 1 "init refuses to overwrite" "$GPT2" init $TINY --seed 3 --out "$TMP/a" &&
    { grep -q -- '--force' "$TMP/err" || fail "the refusal does not mention --force"; }
cmp -s "$TMP/a/model.safetensors" "$TMP/b/model.safetensors" || fail "a refused init changed the model"
expect 0 "init --force overwrites" "$GPT2" init $TINY --seed 2 --test-noise 0.05 --out "$TMP/a" --force
cmp -s "$TMP/a/model.safetensors" "$TMP/c/model.safetensors" || fail "init --force did not write the new model"
expect 0 "init --force back to seed 1" "$GPT2" init $TINY --seed 1 --test-noise 0.05 --out "$TMP/a" --force
cmp -s "$TMP/a/model.safetensors" "$TMP/b/model.safetensors" || fail "init --force back to seed 1 did not write seed 1's model"
mkdir -p "$TMP/notok"
expect 1 "init without tokenizer files" "$GPT2" init --layers 1 --heads 1 --embd 8 --seed 1 \
    --tokenizer "$TMP/notok" --out "$TMP/e" &&
    { grep -q 'make tokenizer' "$TMP/err" || fail "the missing-tokenizer message does not say 'make tokenizer'"; }
[ -e "$TMP/e/model.safetensors" ] && fail "init without tokenizer still wrote a model"

# ---------------------------------------------------------------------------
# info

expect 0 "info" "$GPT2" info --model "$TMP/a" && {
    grep -q '^n_layer: *2$' "$TMP/out" && grep -q "^parameters: *$params " "$TMP/out" &&
        grep -q '^storage:' "$TMP/out" && grep -q '^tokenizer: *50257 tokens' "$TMP/out" ||
        { fail "info output:"; cat "$TMP/out"; }
}

# ---------------------------------------------------------------------------
# score

TEXT="Hello world, this is a test of the tiny model."
expect 0 "score" "$GPT2" score --model "$TMP/a" "$TEXT" && {
    cp "$TMP/out" "$TMP/score.txt"
    # summary line: tokens N log_ppl X ppl Y; one line per token before it
    awk '/^tokens /{ n = $2; x = $4; s = 1 } /^[0-9]+ [0-9]+ "/{ lines++ }
         END { exit !(s && n > 0 && lines == n && x == x + 0 && x > 0 && x < 100) }' "$TMP/score.txt" ||
        { fail "score output:"; cat "$TMP/score.txt"; }
}
expect 0 "score --json" "$GPT2" score --model "$TMP/a" --json "$TEXT" && cp "$TMP/out" "$TMP/score.json"
N=$("$PY" -c '
import json, math, sys
d = json.load(open(sys.argv[1]))
lp, ids = d["logprobs"], d["tokens"]
assert len(lp) == len(ids) > 0, "lengths"
assert all(isinstance(x, float) and math.isfinite(x) and x <= 0 for x in lp), "logprobs"
mean_nll = -sum(lp) / len(lp)
assert math.isfinite(d["log_ppl"]), "log_ppl"
assert abs(d["log_ppl"] - mean_nll) <= 1e-9 * max(1.0, abs(mean_nll)), "log_ppl != mean NLL"
assert abs(d["ppl"] - math.exp(d["log_ppl"])) <= 1e-9 * d["ppl"], "ppl != exp(log_ppl)"
print(len(ids))
' "$TMP/score.json") && ok "score --json parses, log_ppl = mean of -logprobs ($N tokens)" ||
    { fail "score --json:"; head -c 600 "$TMP/score.json"; echo; N=0; }
grep -q "^tokens $N " "$TMP/score.txt" || fail "score table and --json disagree on the token count"
printf '%s' "$TEXT" | "$GPT2" score --model "$TMP/a" --json - >"$TMP/stdin.json" 2>"$TMP/err" &&
    cmp -s "$TMP/stdin.json" "$TMP/score.json" && ok "score reads standard input" ||
    fail "score of standard input differs from score of the argument"
printf '%s' "$TEXT" >"$TMP/text.txt"
"$GPT2" score --model "$TMP/a" --json --file "$TMP/text.txt" >"$TMP/file.json" 2>"$TMP/err" &&
    cmp -s "$TMP/file.json" "$TMP/score.json" && ok "score --file" || fail "score --file differs"
expect 1 "score of an empty text" "$GPT2" score --model "$TMP/a" "" &&
    { grep -q 'empty' "$TMP/err" && [ ! -s "$TMP/out" ] || fail "empty text: no 'empty' on stderr, or output: $(cat "$TMP/err")"; }
LONG=$(awk 'BEGIN { for (i = 0; i < 200; i++) printf "word%d ", i }')   # about 400 tokens
expect 1 "score of a text longer than the context" "$GPT2" score --model "$TMP/a" "$LONG" &&
    { grep -q 'context' "$TMP/err" || fail "the too-long message does not mention the context"; }

# ---------------------------------------------------------------------------
# generate

gen() { "$GPT2" generate --model "$TMP/a" "$@" 2>"$TMP/err"; }
g1=$(gen --seed 7 --max-tokens 16 "Once upon a time") || fail "generate --seed 7"
g2=$(gen --seed 7 --max-tokens 16 "Once upon a time") || fail "generate --seed 7 again"
g3=$(gen --seed 8 --max-tokens 16 "Once upon a time") || fail "generate --seed 8"
[ -n "$g1" ] && [ "$g1" = "$g2" ] && ok "generate with one seed is deterministic" ||
    fail "generate --seed 7 twice: '$g1' vs '$g2'"
[ "$g1" != "$g3" ] && ok "generate with another seed differs" || fail "seeds 7 and 8 generate the same text"
t1=$(gen --temperature 0 --max-tokens 12 "The") || fail "greedy generate"
t2=$(gen --temperature 0 --max-tokens 12 --seed 99 "The") || fail "greedy generate again"
[ -n "$t1" ] && [ "$t1" = "$t2" ] && ok "greedy generate is deterministic" || fail "greedy: '$t1' vs '$t2'"
e=$(gen --top-k 0 --max-tokens 8 "") && ok "generate from an empty prompt, top-k 0" || fail "generate from an empty prompt"
z=$(gen --max-tokens 0 "Hi"; echo x) && [ "$z" = "
x" ] && ok "--max-tokens 0 prints only the newline" || fail "--max-tokens 0 printed '$z'"
gen --seed 7 --max-tokens 300 "Once upon a time" >/dev/null && ok "generate stops at the context limit" ||
    fail "generate past the context"
"$GPT2" generate --model "$TMP/a" --verbose --max-tokens 4 "Hi" >/dev/null 2>"$TMP/err" &&
    grep -q 'tokens/s' "$TMP/err" && ok "--verbose timing on stderr" || fail "generate --verbose"

# ---------------------------------------------------------------------------
# logits

expect 0 "logits" "$GPT2" logits --model "$TMP/a" --out "$TMP/last.f32" "$TEXT" &&
    { [ "$(wc -c <"$TMP/last.f32")" -eq $((V * 4)) ] || fail "logits file is not V*4 bytes"; }
grep -q "(1, $V)" "$TMP/err" || fail "logits does not print its shape"
expect 0 "logits --all" "$GPT2" logits --model "$TMP/a" --out "$TMP/all.f32" --all "$TEXT" &&
    { [ "$(wc -c <"$TMP/all.f32")" -eq $((N * V * 4)) ] || fail "logits --all is not T*V*4 bytes (T = $N)"; }
expect 0 "logits --ids" "$GPT2" logits --model "$TMP/a" --out "$TMP/eot.f32" --ids 50256 &&
    { [ "$(wc -c <"$TMP/eot.f32")" -eq $((V * 4)) ] || fail "logits --ids file is not V*4 bytes"; }
expect 0 "logits --ids --all" "$GPT2" logits --model "$TMP/a" --out "$TMP/ids.f32" --all --ids 50256,15496,995 &&
    { [ "$(wc -c <"$TMP/ids.f32")" -eq $((3 * V * 4)) ] || fail "logits --ids --all is not 3*V*4 bytes"; }
expect 2 "logits --ids past the vocabulary" "$GPT2" logits --model "$TMP/a" --out "$TMP/x.f32" --ids 1,$V &&
    { grep -q "id $V is not below the vocabulary size $V" "$TMP/err" && [ ! -e "$TMP/x.f32" ] ||
        fail "id past the vocabulary: $(cat "$TMP/err"), or a file was written"; }
# the last row of --all is the single last row; score's first logprob is
# log_softmax(logits after <|endoftext|>) at the first token
"$PY" -c '
import json, math, struct, sys
V = int(sys.argv[1])
def rows(path):
    data = open(path, "rb").read()
    x = struct.unpack("<%df" % (len(data) // 4), data)
    return [x[i:i + V] for i in range(0, len(x), V)]
last, every, eot = rows(sys.argv[2])[0], rows(sys.argv[3]), rows(sys.argv[4])[0]
assert all(math.isfinite(v) for v in last), "non-finite logits"
d = max(abs(a - b) for a, b in zip(last, every[-1]))
assert d < 1e-4, "last row differs from --all by %g" % d
score = json.load(open(sys.argv[5]))
m = max(eot)
lse = m + math.log(sum(math.exp(v - m) for v in eot))
want = eot[score["tokens"][0]] - lse
assert abs(want - score["logprobs"][0]) < 1e-4, "first logprob %g vs %g" % (score["logprobs"][0], want)
' $V "$TMP/last.f32" "$TMP/all.f32" "$TMP/eot.f32" "$TMP/score.json" &&
    ok "logits agree with each other and with score" || fail "logits / score consistency"

# a text of more than one scoring chunk (128 positions): score's logprobs equal
# the log-softmax of one forward over <|endoftext|> + the text, on both sides
# of the chunk boundary
MID=$(awk 'BEGIN { for (i = 0; i < 90; i++) printf "word%d ", i }')   # about 180 tokens
"$GPT2" score --model "$TMP/a" --json "$MID" >"$TMP/mid.json" 2>"$TMP/err" || fail "score of a 2-chunk text"
IDS=$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(",".join(map(str, [50256] + d["tokens"][:-1])))' "$TMP/mid.json")
expect 0 "logits --all of the 2-chunk text" "$GPT2" logits --model "$TMP/a" --out "$TMP/mid.f32" --all --ids "$IDS"
"$PY" -c '
import json, math, struct, sys
V = int(sys.argv[1])
score = json.load(open(sys.argv[3]))
n = len(score["tokens"])
assert 128 < n <= 256, "the text is %d tokens, not between 129 and 256" % n
f = open(sys.argv[2], "rb")
for t in sorted({0, 1, 126, 127, 128, 129, n - 1}):
    f.seek(4 * V * t)
    row = struct.unpack("<%df" % V, f.read(4 * V))
    m = max(row)
    want = row[score["tokens"][t]] - m - math.log(sum(math.exp(v - m) for v in row))
    assert abs(want - score["logprobs"][t]) < 1e-4, "position %d: %g vs %g" % (t, score["logprobs"][t], want)
' $V "$TMP/mid.f32" "$TMP/mid.json" && ok "score across chunks matches one forward" ||
    fail "score across chunks disagrees with logits"

# ---------------------------------------------------------------------------
# bad checkpoints: exit 1 and one line naming the file

one_line_error() { # description file-to-name command...
    what=$1; name=$2; shift 2
    expect 1 "$what" "$@" || return
    [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "^gpt2: .*$name" "$TMP/err" ||
        { fail "$what: expected one line 'gpt2: ...$name...', got:"; cat "$TMP/err"; }
}
one_line_error "info on a missing dir" "$TMP/nope" "$GPT2" info --model "$TMP/nope"
one_line_error "score on a missing dir" "$TMP/nope" "$GPT2" score --model "$TMP/nope" "hi"
mkdir -p "$TMP/bad"
cp "$TMP/a/config.json" "$TMP/bad/"
head -c 1000 "$TMP/a/model.safetensors" >"$TMP/bad/model.safetensors"
one_line_error "info on a truncated model.safetensors" "model.safetensors" "$GPT2" info --model "$TMP/bad"
one_line_error "generate on a truncated model.safetensors" "model.safetensors" "$GPT2" generate --model "$TMP/bad" "hi"
one_line_error "score --file on a missing file" "$TMP/missing.txt" "$GPT2" score --model "$TMP/a" --file "$TMP/missing.txt"

finish "all gpt2 tool checks passed"
