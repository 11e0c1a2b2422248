#!/usr/bin/python3
"""tests/torch_ref.py: an outside reference for GPT-2 numerics, in PyTorch.

GPT-2 as Hugging Face's GPT2LMHeadModel computes it (eval mode, no dropout),
written as a few short functions over torch tensors, in float64 by default.
It reads a Hugging Face checkpoint directory (config.json + model.safetensors)
with its own safetensors parser, so it needs only torch and numpy.

  python3 tests/torch_ref.py compare --model DIR --cases FILE.json [--tol 1e-4]
  python3 tests/torch_ref.py grad    --model DIR --cases FILE.json [--tol 1e-3]
  python3 tests/torch_ref.py logits  --model DIR --ids 1,2,3 [--out FILE]

grad checks losses and gradients written by tests/tool_grad_cases.c (see the
loss definition there and in grad_case below) against autograd.

Library use (e.g. gradients by autograd later):
  config, params = load_checkpoint(dir)           # params: name -> tensor
  hidden, logits = forward(config, params, ids)   # (T, C), (T, V)
Shapes use llm.c's letters: T positions, C = n_embd, NH heads, hs = C/NH,
V vocabulary, P = n_positions.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"float64": torch.float64, "float32": torch.float32}

# ----------------------------------------------------------------------------
# checkpoint


def read_safetensors(path):
    """name -> float32 numpy array, for F32, F16 and BF16 tensors."""
    raw = open(path, "rb").read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors header")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        count = math.prod(shape)
        size = {"F32": 4, "F16": 2, "BF16": 2}.get(dtype)
        if size is None:
            raise ValueError(f"{path}: {name}: unsupported dtype {dtype}")
        if not (0 <= begin <= end <= len(data)) or end - begin != count * size:
            raise ValueError(f"{path}: {name}: bad data_offsets {begin},{end} for {dtype} {shape}")
        buf = data[begin:end]
        if dtype == "BF16":  # the top 16 bits of a float32
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(buf, dtype="<f4" if dtype == "F32" else "<f2").astype(np.float32)
        out[name] = a.reshape(shape)
    return out


def param_shapes(cfg):
    """Canonical names (as in openai-community/gpt2, no prefix) -> shapes."""
    C, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    s = {"wte.weight": (V, C), "wpe.weight": (P, C)}
    for i in range(cfg["n_layer"]):
        h = f"h.{i}."
        s.update({h + "ln_1.weight": (C,), h + "ln_1.bias": (C,),
                  h + "attn.c_attn.weight": (C, 3 * C), h + "attn.c_attn.bias": (3 * C,),
                  h + "attn.c_proj.weight": (C, C), h + "attn.c_proj.bias": (C,),
                  h + "ln_2.weight": (C,), h + "ln_2.bias": (C,),
                  h + "mlp.c_fc.weight": (C, 4 * C), h + "mlp.c_fc.bias": (4 * C,),
                  h + "mlp.c_proj.weight": (4 * C, C), h + "mlp.c_proj.bias": (C,)})
    s.update({"ln_f.weight": (C,), "ln_f.bias": (C,)})
    return s


def load_checkpoint(model_dir, dtype=torch.float64):
    """-> (config dict, params dict: canonical name -> torch tensor of dtype)."""
    js = json.load(open(os.path.join(model_dir, "config.json")))
    cfg = {k: int(js[k]) for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size")}
    cfg["layer_norm_epsilon"] = float(js.get("layer_norm_epsilon", 1e-5))
    if cfg["n_embd"] % cfg["n_head"]:
        raise ValueError(f"{model_dir}: n_embd {cfg['n_embd']} not a multiple of n_head")
    tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    shapes, params, lm_head = param_shapes(cfg), {}, None
    for name, a in tensors.items():
        key = name[len("transformer."):] if name.startswith("transformer.") else name
        if key.endswith(".attn.bias") or key.endswith(".attn.masked_bias"):
            continue  # causal-mask buffers, not weights
        if key == "lm_head.weight":
            lm_head = a
            continue
        if key not in shapes:
            raise ValueError(f"{model_dir}: unexpected tensor {name}")
        if tuple(a.shape) != shapes[key]:
            raise ValueError(f"{model_dir}: {name} has shape {list(a.shape)}, want {list(shapes[key])}")
        params[key] = torch.from_numpy(a.astype(np.float64)).to(dtype)
    missing = [k for k in shapes if k not in params]
    if missing:
        raise ValueError(f"{model_dir}: missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if lm_head is not None and not np.array_equal(lm_head, params["wte.weight"].double().numpy()):
        raise ValueError(f"{model_dir}: lm_head.weight differs from wte (untied heads unsupported)")
    return cfg, params

# ----------------------------------------------------------------------------
# model


def layer_norm(x, w, b, eps):  # x (T, C) -> (T, C)
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased, as torch LayerNorm
    return (x - mean) / torch.sqrt(var + eps) * w + b


def gelu_new(x):  # tanh approximation, as HF's "gelu_new"
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def attention(x, w, b, proj_w, proj_b, n_head):  # x (T, C) -> (T, C)
    T, C = x.shape
    hs = C // n_head
    q, k, v = (x @ w + b).split(C, dim=-1)                        # 3 x (T, C)
    q, k, v = (t.view(T, n_head, hs).transpose(0, 1) for t in (q, k, v))  # (NH, T, hs)
    att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)               # (NH, T, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
    y = (att @ v).transpose(0, 1).reshape(T, C)                   # (T, C)
    return y @ proj_w + proj_b


def block(x, p, i, eps, n_head):  # x (T, C) -> (T, C)
    h = f"h.{i}."
    a = layer_norm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
    x = x + attention(a, p[h + "attn.c_attn.weight"], p[h + "attn.c_attn.bias"],
                      p[h + "attn.c_proj.weight"], p[h + "attn.c_proj.bias"], n_head)
    m = layer_norm(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
    m = gelu_new(m @ p[h + "mlp.c_fc.weight"] + p[h + "mlp.c_fc.bias"])  # (T, 4C)
    return x + m @ p[h + "mlp.c_proj.weight"] + p[h + "mlp.c_proj.bias"]


def embed(cfg, p, ids, embeds=None, is_embed=None):
    """Input vectors (T, C): wte[ids] (or embeds[t] where is_embed[t]) + wpe[t].
    ids: (T) ints; embeds: (T, C) tensor or None; is_embed: (T) bools or None."""
    T = len(ids)
    if T > cfg["n_positions"]:
        raise ValueError(f"sequence of {T} positions > n_positions {cfg['n_positions']}")
    ids = torch.as_tensor(ids, dtype=torch.long)
    is_embed = torch.as_tensor([False] * T if is_embed is None else is_embed, dtype=torch.bool)
    ids = torch.where(is_embed, torch.zeros_like(ids), ids)  # ids there are don't-cares
    if ((ids < 0) | (ids >= cfg["vocab_size"])).any():
        raise ValueError(f"token id out of range [0, {cfg['vocab_size']})")
    x = p["wte.weight"][ids]                                      # (T, C)
    if embeds is not None:
        x = torch.where(is_embed[:, None], embeds.to(x.dtype), x)
    return x + p["wpe.weight"][:T]


def forward(cfg, p, ids, embeds=None, is_embed=None, logits_at=None):
    """One sequence, positions 0..T-1 -> (hidden (T, C) after ln_f, logits).
    logits: (T, V), or only the rows logits_at (a list of positions)."""
    x = embed(cfg, p, ids, embeds, is_embed)
    for i in range(cfg["n_layer"]):
        x = block(x, p, i, cfg["layer_norm_epsilon"], cfg["n_head"])
    hidden = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], cfg["layer_norm_epsilon"])
    rows = hidden if logits_at is None else hidden[list(logits_at)]
    return hidden, rows @ p["wte.weight"].T                       # tied LM head

# ----------------------------------------------------------------------------
# CLI


def read_f32(path, count, what):
    if not os.path.isfile(path):
        raise ValueError(f"{what}: missing file {path}")
    size = os.path.getsize(path)
    if size != 4 * count:
        raise ValueError(f"{what}: {path} has {size} bytes, want {4 * count} ({count} float32)")
    return np.fromfile(path, dtype="<f4")


def compare_case(cfg, p, case, base_dir, dtype):
    """-> (rows, max_rel, argmax agreements) for one case; raises ValueError."""
    B, T, C, V = case["B"], case["T"], cfg["n_embd"], cfg["vocab_size"]
    ids, lens = np.asarray(case["ids"], dtype=np.int64), np.asarray(case.get("lens") or [T] * B)
    out_pos = [int(q) for q in case["out_pos"]]
    if ids.size != B * T or lens.size != B or not ((lens >= 0) & (lens <= T)).all():
        raise ValueError(f"need B*T={B * T} ids (got {ids.size}) and B={B} lens in [0, T] (got {lens.tolist()})")
    ids = ids.reshape(B, T)
    is_embed = np.asarray(case.get("is_embed") or [0] * (B * T), dtype=bool).reshape(B, T)
    embeds = None
    if case.get("embeds"):
        e = read_f32(os.path.join(base_dir, case["embeds"]), B * T * C, "embeds")
        embeds = torch.from_numpy(e.reshape(B, T, C).astype(np.float64)).to(dtype)
    elif is_embed.any():
        raise ValueError("is_embed is set but embeds is null")
    for q in out_pos:
        if not (0 <= q < B * T and q % T < lens[q // T]):
            raise ValueError(f"out_pos {q} is not a real position (B={B} T={T})")
    c = read_f32(os.path.join(base_dir, case["logits"]), len(out_pos) * V, "logits")
    c = c.reshape(len(out_pos), V).astype(np.float64)
    ref = np.zeros_like(c)
    for b in sorted({q // T for q in out_pos}):   # each row alone, no padding
        n = int(lens[b])
        want = [i for i, q in enumerate(out_pos) if q // T == b]
        _, logits = forward(cfg, p, ids[b, :n].tolist(),
                            None if embeds is None else embeds[b, :n], is_embed[b, :n],
                            logits_at=[out_pos[i] % T for i in want])
        ref[want] = logits.detach().double().numpy()
    rel = [np.abs(c[r] - ref[r]).max() / np.abs(ref[r]).max() if np.isfinite(c[r]).all() else np.inf
           for r in range(len(out_pos))]                  # per requested row
    agree = int((c.argmax(-1) == ref.argmax(-1)).sum()) if len(out_pos) else 0
    return len(out_pos), max(rel, default=0.0), agree


def run_cases(args, check, tol_per=""):
    """Checks every case of args.cases against the checkpoint args.model: check(cfg, p, case,
    base_dir, dtype, tol) -> (worst relative error, summary, detail lines) or raises ValueError
    (KeyError, TypeError) for a malformed case. Prints a line per case and the total; returns 1
    when a case fails or there are none, else 0."""
    dtype = DTYPES[args.dtype]
    cfg, p = load_checkpoint(args.model, dtype)
    cases = json.load(open(args.cases))["cases"]
    base_dir, failed = os.path.dirname(os.path.abspath(args.cases)), 0
    for i, case in enumerate(cases):
        name = case.get("name", f"case{i}")
        try:
            worst, summary, details = check(cfg, p, case, base_dir, dtype, args.tol)
        except (ValueError, KeyError, TypeError) as e:
            print(f"FAIL {name}  error: {'missing key ' if isinstance(e, KeyError) else ''}{e}")
            failed += 1
            continue
        ok = worst <= args.tol
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}  {summary}")
        for line in details:
            print(line)
    print(f"{len(cases) - failed}/{len(cases)} cases ok (tol {args.tol:g}{tol_per}, {args.dtype} reference)")
    return 1 if failed or not cases else 0


def check_logits(cfg, p, case, base_dir, dtype, tol):
    """run_cases' check of a compare case: the worst row."""
    with torch.no_grad():
        rows, rel, agree = compare_case(cfg, p, case, base_dir, dtype)
    return rel, f"rows={rows}  max_rel={rel:.2g}  argmax={agree}/{rows}", []


def cmd_compare(args):
    return run_cases(args, check_logits)


def case_loss(cfg, p, case, embeds):
    """The total loss of a grad case, from its full sequences and per-row terms:
      label_ce {"pos": t, "label_ids": [...], "target": k}: -log softmax(logits[t, label_ids])[k]
      lm {"from": t0, "to": t1}: -log softmax(logits[t])[ids[t+1]] for t0 <= t < t1
      total = mean over all label_ce terms of the batch + mean over all lm terms
    (a kind with no terms adds 0). Each row runs alone, without its padding."""
    B, T = case["B"], case["T"]
    ids, lens = np.asarray(case["ids"], dtype=np.int64), np.asarray(case["lens"], dtype=np.int64)
    rows = case["loss"]["rows"]
    if ids.size != B * T or lens.size != B or len(rows) != B or not ((lens >= 0) & (lens <= T)).all():
        raise ValueError(f"need B*T={B * T} ids (got {ids.size}), B={B} lens in [0, T] and B loss rows")
    ids = ids.reshape(B, T)
    is_embed = np.asarray(case.get("is_embed") or [0] * (B * T), dtype=bool).reshape(B, T)
    label, lm = [], []
    for b, row in enumerate(rows):
        n = int(lens[b])
        lab, nt = row.get("label_ce"), row.get("lm")
        if lab is None and nt is None:
            continue
        hidden, _ = forward(cfg, p, ids[b, :n].tolist(), embeds[b, :n], is_embed[b, :n], logits_at=[])
        wte = p["wte.weight"]
        if lab is not None:
            t, k, lab_ids = int(lab["pos"]), int(lab["target"]), [int(i) for i in lab["label_ids"]]
            if not (0 <= t < n and 0 <= k < len(lab_ids)):
                raise ValueError(f"row {b}: bad label_ce {lab}")
            logits = hidden[t] @ wte[lab_ids].T                      # (K)
            label.append(-torch.log_softmax(logits, -1)[k])
        if nt is not None:
            t0, t1 = int(nt["from"]), int(nt["to"])
            if not (0 <= t0 <= t1 <= n - 1):
                raise ValueError(f"row {b}: bad lm range {nt} for length {n}")
            logits = hidden[t0:t1] @ wte.T                           # (t1-t0, V)
            tgt = torch.as_tensor(ids[b, t0 + 1:t1 + 1], dtype=torch.long)
            lm.extend(-torch.log_softmax(logits, -1).gather(1, tgt[:, None])[:, 0])
    zero = p["wte.weight"].new_zeros(())
    return ((torch.stack(label).mean() if label else zero) + (torch.stack(lm).mean() if lm else zero))


def rel_err(c, ref):
    """max|c - ref| / max|ref| (max|c - ref| when ref is all 0); inf for non-finite c."""
    if c.shape != ref.shape:
        raise ValueError(f"shape {c.shape} != {ref.shape}")
    if c.size == 0:
        return 0.0
    if not np.isfinite(c).all():
        return math.inf
    d, s = np.abs(c - ref).max(), np.abs(ref).max()
    return d / s if s > 0 else d


def grad_case(cfg, p, case, base_dir, dtype):
    """-> list of (what, rel error, max|ref|) for one case; raises ValueError."""
    B, T, C = case["B"], case["T"], cfg["n_embd"]
    e = read_f32(os.path.join(base_dir, case["embeds"]), B * T * C, "embeds")
    embeds = torch.from_numpy(e.reshape(B, T, C).astype(np.float64)).to(dtype).requires_grad_(True)
    weights = case.get("grads") is not None
    for t in p.values():
        t.requires_grad_(weights)
        t.grad = None
    loss = case_loss(cfg, p, case, embeds)
    loss.backward()
    out = []
    c_loss = read_f32(os.path.join(base_dir, case["loss_value"]), 1, "loss_value").astype(np.float64)
    ref_loss = np.array([loss.item()])
    out.append(("loss", rel_err(c_loss, ref_loss), abs(ref_loss[0])))
    is_embed = np.asarray(case.get("is_embed") or [0] * (B * T), dtype=bool)
    n_soft = int(is_embed.sum())
    c = read_f32(os.path.join(base_dir, case["d_input"]), n_soft * C, "d_input").reshape(n_soft, C)
    ref = embeds.grad.detach().double().numpy().reshape(B * T, C)[is_embed]
    out.append((f"d_input ({n_soft} soft positions)", rel_err(c.astype(np.float64), ref), np.abs(ref).max(initial=0)))
    if weights:
        shapes = param_shapes(cfg)                   # canonical order, as gpt2_point_weights
        total = sum(math.prod(s) for s in shapes.values())
        g = read_f32(os.path.join(base_dir, case["grads"]), total, "grads").astype(np.float64)
        off = 0
        for name, shape in shapes.items():
            n = math.prod(shape)
            ref = p[name].grad.detach().double().numpy().reshape(-1)
            out.append((name, rel_err(g[off:off + n], ref), np.abs(ref).max()))
            off += n
        for t in p.values():
            t.requires_grad_(False)
            t.grad = None
    return out


def check_grads(cfg, p, case, base_dir, dtype, tol):
    """run_cases' check of a grad case: the worst tensor, and a line per tensor ("!" past tol)."""
    results = grad_case(cfg, p, case, base_dir, dtype)
    worst = max(r for _, r, _ in results)
    lines = [f"       {'  ' if r <= tol else '! '}{what:<28} rel {r:.2e}  (max|ref| {scale:.3g})"
             for what, r, scale in results]
    return worst, f"max_rel={worst:.2g}", lines


def cmd_grad(args):
    return run_cases(args, check_grads, " per tensor")


def cmd_logits(args):
    cfg, p = load_checkpoint(args.model, DTYPES[args.dtype])
    ids = [int(s) for s in args.ids.split(",") if s.strip()]
    if not ids:
        raise ValueError("--ids is empty")
    with torch.no_grad():
        _, logits = forward(cfg, p, ids, logits_at=[len(ids) - 1])
    last = logits[0].double().numpy()
    if args.out:
        last.astype("<f4").tofile(args.out)
    else:
        print("\n".join(f"{v:.9g}" for v in last))
    top = np.argsort(-last)[:5]
    print("top5: " + "  ".join(f"{t}:{last[t]:.6g}" for t in top), file=sys.stderr)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch reference for GPT-2 numerics (float64 by default).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare", help="check logits written by the C code against this reference")
    c.add_argument("--model", required=True, help="checkpoint dir: config.json + model.safetensors")
    c.add_argument("--cases", required=True, help="cases JSON (paths inside are relative to it)")
    c.add_argument("--tol", type=float, default=1e-4, help="max of max|c-ref|/max|ref| per row (default 1e-4)")
    g = sub.add_parser("grad", help="check losses and gradients written by tests/tool_grad_cases.c")
    g.add_argument("--model", required=True, help="checkpoint dir: config.json + model.safetensors")
    g.add_argument("--cases", required=True, help="cases JSON (paths inside are relative to it)")
    g.add_argument("--tol", type=float, default=1e-3, help="max of max|c-ref|/max|ref| per tensor (default 1e-3)")
    l = sub.add_parser("logits", help="last-position logits of one sequence")
    l.add_argument("--model", required=True, help="checkpoint dir: config.json + model.safetensors")
    l.add_argument("--ids", required=True, help="comma-separated token ids, e.g. 1,2,3")
    l.add_argument("--out", help="write raw little-endian float32 (V) here instead of printing")
    for s in (c, g, l):
        s.add_argument("--dtype", choices=sorted(DTYPES), default="float64", help="compute dtype (default float64)")
    args = ap.parse_args(argv)
    try:
        return {"compare": cmd_compare, "grad": cmd_grad, "logits": cmd_logits}[args.cmd](args)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        print(f"torch_ref.py: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
