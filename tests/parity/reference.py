"""reference.py — the PyTorch reference of lvt's transformer LVM (docs/model.md), used by the parity
tests. Two equivalent forms:

* LVMTransformer: the nn.Module tree whose state_dict names/shapes lvt reproduces
  (input_proj, PE, nn.TransformerDecoder of post-norm ReLU nn.TransformerDecoderLayer, head =
  Linear, GELU, LayerNorm, Linear); causal self-attention and causal cross-attention to mem.
* functional_forward: the same math written out with explicit dropout masks, so a train-mode
  forward of lvt (masks from Philox) can be reproduced exactly; in eval mode it is checked
  against LVMTransformer by the tests.

Also a numpy Philox4x32-10 with lvt's keying (include/lvt/rng.h), written independently of the C.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def sinusoidal_pe(length, d):
    """PyTorch-tutorial positional encoding: pe[pos, 2i] = sin(pos / 10000^(2i/d)), cos odd."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    div = np.exp(np.arange(0, d, 2, dtype=np.float64) * (-math.log(10000.0) / d))
    pe = np.zeros((length, d), dtype=np.float64)
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div)[:, : d // 2]
    return pe


class PositionalEncoding(nn.Module):
    def __init__(self, d, max_len=64):
        super().__init__()
        # not persistent: no state_dict entry, as in lvt's table
        self.register_buffer("pe", torch.tensor(sinusoidal_pe(max_len, d), dtype=torch.float64),
                             persistent=False)

    def forward(self, x):
        return x + self.pe[: x.shape[1]].to(x.dtype)


def causal_mask(L, dtype=torch.float32):
    return torch.triu(torch.full((L, L), float("-inf"), dtype=dtype), diagonal=1)


class LVMTransformer(nn.Module):
    def __init__(self, dim=768, d_model=512, nhead=8, num_layers=4, dim_feedforward=2048,
                 dropout=0.1):
        super().__init__()
        self.input_proj = nn.Linear(dim, d_model)
        self.pos_encoder = PositionalEncoding(d_model)
        layer = nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout,
                                           activation="relu", batch_first=True, norm_first=False)
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers)
        self.head = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model),
                                  nn.Linear(d_model, dim))

    def forward(self, ctx):
        """ctx (B, L, D) -> (raw (B, D), pred (B, D))"""
        x = self.pos_encoder(self.input_proj(ctx))
        mask = causal_mask(ctx.shape[1], x.dtype)
        out = self.transformer_decoder(x, x, tgt_mask=mask, memory_mask=mask)
        raw = self.head(out[:, -1])
        return raw, F.normalize(raw, dim=-1, eps=1e-12)


def _mha(sd, pre, xq, xkv, nhead, attn_keep, p):
    """Multi-head attention written out; attn_keep (B, H, L, L) of 0/1 or None."""
    W, b = sd[pre + "in_proj_weight"], sd[pre + "in_proj_bias"]
    d = xq.shape[-1]
    q = xq @ W[:d].T + b[:d]
    k = xkv @ W[d:2 * d].T + b[d:2 * d]
    v = xkv @ W[2 * d:].T + b[2 * d:]
    B, L, _ = q.shape
    hd = d // nhead
    q, k, v = (t.reshape(B, L, nhead, hd).transpose(1, 2) for t in (q, k, v))
    s = q @ k.transpose(-1, -2) / math.sqrt(hd) + causal_mask(L, q.dtype)
    P = torch.softmax(s, dim=-1)
    if attn_keep is not None:
        P = P * attn_keep / (1.0 - p)
    o = (P @ v).transpose(1, 2).reshape(B, L, d)
    return o @ sd[pre + "out_proj.weight"].T + sd[pre + "out_proj.bias"]


def functional_forward(sd, ctx, nhead, n_layers, masks=None, p=0.0, relu_pattern=None,
                       record=None):
    """The model with explicit dropout: masks[(layer, site)] is a 0/1 tensor shaped like the
    dropped activation (sites 1-4: (B, L, d|F); sites 5, 6: (B, H, L, L)); None = eval.
    relu_pattern[layer] (0/1, (B, L, F)), when given, replaces the ReLU's own decision h > 0 —
    lvt's float32 decision, so that pre-activations within rounding of 0 cannot flip the
    gradient; record (a dict), when given, receives the ReLU inputs as record[layer]."""
    def drop(x, l, k):
        return x if masks is None else x * masks[(l, k)] / (1.0 - p)

    def ln(x, pre):
        return F.layer_norm(x, x.shape[-1:], sd[pre + "weight"], sd[pre + "bias"], 1e-5)

    x = ctx @ sd["input_proj.weight"].T + sd["input_proj.bias"]
    x = x + torch.tensor(sinusoidal_pe(ctx.shape[1], x.shape[-1]), dtype=x.dtype)
    mem = x
    for l in range(n_layers):
        pre = "transformer_decoder.layers.%d." % l
        am5 = None if masks is None else masks[(l, 5)]
        am6 = None if masks is None else masks[(l, 6)]
        x = ln(x + drop(_mha(sd, pre + "self_attn.", x, x, nhead, am5, p), l, 1), pre + "norm1.")
        x = ln(x + drop(_mha(sd, pre + "multihead_attn.", x, mem, nhead, am6, p), l, 2),
               pre + "norm2.")
        h = x @ sd[pre + "linear1.weight"].T + sd[pre + "linear1.bias"]
        if record is not None:
            record[l] = h.detach()
        h = drop(torch.relu(h) if relu_pattern is None else h * relu_pattern[l], l, 3)
        f = h @ sd[pre + "linear2.weight"].T + sd[pre + "linear2.bias"]
        x = ln(x + drop(f, l, 4), pre + "norm3.")
    h = x[:, -1]
    g = F.gelu(h @ sd["head.0.weight"].T + sd["head.0.bias"])
    g = ln(g, "head.2.")
    raw = g @ sd["head.3.weight"].T + sd["head.3.bias"]
    return raw, F.normalize(raw, dim=-1, eps=1e-12)


# ---- Philox4x32-10 with lvt's keying, vectorised over elements -------------------------------

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    c = [np.asarray(v, dtype=np.uint64) & _MASK32 for v in (c0, c1, c2, c3)]
    c = np.broadcast_arrays(*c)
    c = [v.copy() for v in c]
    k0, k1 = int(k0) & 0xFFFFFFFF, int(k1) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _M0 * c[0]
        p1 = _M1 * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK32
        c = [hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0]
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
    return c


def rng_unit(seed, step, site, sample, element):
    """lvt_rng_unit for arrays of sample/element (uint64 semantics)."""
    sample = np.asarray(sample, dtype=np.uint64)
    element = np.asarray(element, dtype=np.uint64)
    c3 = (np.uint64(site) ^ (np.uint64((step >> 32) & 0xFFFFFFFF) << np.uint64(16))
          ^ ((sample >> np.uint64(32)) << np.uint64(24))) & _MASK32
    words = philox4x32_10(element >> np.uint64(2), sample & _MASK32, np.uint64(step & 0xFFFFFFFF),
                          c3, seed & 0xFFFFFFFF, seed >> 32)
    w = np.choose((element & np.uint64(3)).astype(np.int64), words)
    return (w >> np.uint64(8)).astype(np.float64) / 16777216.0


def dropout_keep(seed, step, site, sample_base, n_samples, per_sample, p):
    """keep[s, e] = rng_unit(seed, step, site, sample_base + s, e) >= p  (float32 compare)."""
    s = np.arange(n_samples, dtype=np.uint64)[:, None] + np.uint64(sample_base)
    e = np.arange(per_sample, dtype=np.uint64)[None, :]
    u = rng_unit(seed, step, site, s, e).astype(np.float32)
    return u >= np.float32(p)


def lvt_masks(meta):
    """Rebuild every dropout mask of an lvt train-mode forward from its key (docs/model.md).
    The last layer computes position L-1 only, so its masks are drawn per sample for that
    position alone (element c, or h*L + j for the attention weights of query L-1); the masks of
    its other positions do not reach the output and are set to 1 here."""
    B, L, d, H, F_ = meta["batch"], meta["context_len"], meta["d_model"], meta["n_heads"], meta["ffn"]
    k = meta["key"]
    p = meta["dropout"]
    nl = meta["n_layers"]
    masks = {}
    for l in range(nl):
        for site, width in ((1, d), (2, d), (3, F_), (4, d), (5, None), (6, None)):
            sid = k["site_base"] + 8 * l + site
            attn = width is None
            shape = (H, L, L) if attn else (L, width)
            if l < nl - 1:
                keep = dropout_keep(k["seed"], k["step"], sid, k["sample_base"], B,
                                    int(np.prod(shape)), p).reshape((B,) + shape)
            else:
                keep = np.ones((B,) + shape, dtype=bool)
                per = H * L if attn else width
                last = dropout_keep(k["seed"], k["step"], sid, k["sample_base"], B, per, p)
                if attn:
                    keep[:, :, L - 1, :] = last.reshape(B, H, L)
                else:
                    keep[:, L - 1, :] = last
            masks[(l, site)] = torch.tensor(keep, dtype=torch.float64)
    return masks
