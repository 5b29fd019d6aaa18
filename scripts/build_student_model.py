"""Build a smaller embedding model: the default e5-small with layers dropped, distilled from it.

Issue 17 ("quality per FLOP"): fewer transformer layers mean fewer operations per text. The
student keeps ``--layers`` of the teacher's 12 BERT layers (evenly spaced, first and last kept),
then learns to reproduce the teacher's embeddings: mean squared error between the student's
normalised embedding of a text (at ``--max-tokens``) and the teacher's (at its own 128 tokens),
each side with its e5 prompt (``query: `` for needs/demands, ``passage: `` for results).

Training texts are only those we may use: the dev split (``../shared/eval/dev``: demand and result
texts), the demo data (``fixtures/demo``: needs, results, capability profiles) and text derived
from them (title only, title + keywords, the leading sentences, sentences in another order,
a result's title or first sentence asked as a query). ``research/paraphrase_dev`` is held out:
it is the check, never training data.

Usage::

    python scripts/build_student_model.py var/models/default var/models/e5s-L8 --layers 8 \
        [--max-tokens 128] [--epochs 1] [--force]

Offline and deterministic (fixed seeds, one ordering, at most 2 threads). The teacher's
embeddings of the training texts are cached under ``var/cache/student/`` (keyed by the teacher's
id and the texts), so a second student reuses them. Idempotent like build_default_model.py: a
directory whose BUILD_INFO.json records the same build version and digest is left alone. The
output is a sentence-transformers directory whose BUILD_INFO.json gives ``model_id()`` a distinct
tag (model name ``multilingual-e5-small-L<K>``, build version with layers, length and recipe).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The sibling script decides when a built model directory is up to date, for both builds.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_default_model import is_current  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_DIR = BASE_DIR.parent / "shared" / "eval" / "dev"
DEMO_DIR = BASE_DIR / "fixtures" / "demo"
CACHE_DIR = BASE_DIR / "var" / "cache" / "student"
# Bump when the recipe changes (texts, loss, schedule), so existing directories get rebuilt.
RECIPE = "kd1"
SEED = 17
QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
_SENTENCE = re.compile(r"[^。！？；!?;]+[。！？；!?;]?")


# --- Training texts ----------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text or "") if s.strip()]


def _demand_text(title: str, description: str) -> str:
    # As matching.matcher.evaluation.demand_text (scripts do not import the project).
    title, description = (title or "").strip(), (description or "").strip()
    if title and title in description:
        return description
    return "。".join(p for p in (title, description) if p)


def _result_text(title: str, abstract: str, keywords: list[str]) -> str:
    # As matching.matcher.evaluation.result_text.
    text = "。".join(p for p in ((title or "").strip(), (abstract or "").strip()) if p)
    if keywords:
        text += " 关键词：" + "；".join(keywords)
    return text


def _service_result_text(title: str, abstract: str, keywords: list[str], extra: list[str]) -> str:
    # As matching.matcher.documents.result_doc joins a result.
    parts = (title, abstract, "、".join(keywords), "、".join(extra))
    return "\n".join(p.strip() for p in parts if p and p.strip())


def _result_variants(
    rng: random.Random, title: str, abstract: str, keywords: list[str], extra: list[str]
) -> list[tuple[str, str]]:
    """The full text plus one derived passage and one derived query for a result."""
    sentences = _sentences(abstract)
    shuffled = sentences[:]
    rng.shuffle(shuffled)
    derived = [
        title,
        title + " 关键词：" + "；".join(keywords) if keywords else title,
        "。".join([title, *sentences[:2]]),
        _result_text(title, "".join(shuffled), keywords),
        _service_result_text(title, abstract, keywords, extra),
    ]
    queries = [title, sentences[0] if sentences else title]
    return [
        ("document", _result_text(title, abstract, keywords)),
        ("document", rng.choice(derived)),
        ("query", rng.choice(queries)),
    ]


def training_texts(limit: int = 0) -> list[tuple[str, str]]:
    """(kind, text) pairs, deduplicated, in a fixed order."""
    rng = random.Random(SEED)
    pairs: list[tuple[str, str]] = []
    for r in _jsonl(DEV_DIR / "results.jsonl"):
        pairs += _result_variants(
            rng, r["title"], r.get("abstract") or "", list(r.get("keywords") or []), []
        )
    for d in _jsonl(DEV_DIR / "demands.jsonl"):
        title, description = d["title"], d.get("description") or ""
        pairs += [
            ("query", _demand_text(title, description)),
            ("query", rng.choice([title, description])),
        ]
    for path in sorted(DEMO_DIR.glob("results_part*.json")):
        for r in json.loads(path.read_text(encoding="utf-8")):
            pairs += _result_variants(
                rng,
                r["title"],
                r.get("abstract") or "",
                list(r.get("keywords") or []),
                list(r.get("application_fields") or []),
            )
    for path in sorted(DEMO_DIR.glob("needs_part*.json")):
        for n in json.loads(path.read_text(encoding="utf-8")):
            full = "\n".join(
                p.strip()
                for p in (n["title"], n.get("summary"), n.get("description"), n.get("scenario"))
                if p and p.strip()
            )
            pairs += [
                ("query", full),
                ("query", _demand_text(n["title"], n.get("description") or "")),
                ("query", rng.choice([n["title"], n.get("summary") or n["title"]])),
            ]
    for path in sorted(DEMO_DIR.glob("capabilities_part*.json")):
        for c in json.loads(path.read_text(encoding="utf-8")):
            text = "\n".join(
                p.strip() for p in (c["title"], c.get("description")) if p and p.strip()
            )
            pairs.append(("document", text))
    seen: set[tuple[str, str]] = set()
    unique = []
    for kind, text in pairs:
        text = text.strip()
        if text and (kind, text) not in seen:
            seen.add((kind, text))
            unique.append((kind, text))
    if limit:
        unique = random.Random(SEED).sample(unique, min(limit, len(unique)))
    return unique


def _prompted(pairs: list[tuple[str, str]]) -> list[str]:
    return [(QUERY_PROMPT if kind == "query" else DOCUMENT_PROMPT) + text for kind, text in pairs]


# --- Model surgery and distillation ------------------------------------------------------------


def keep_layers(total: int, k: int) -> list[int]:
    """``k`` evenly spaced layer indices out of ``total``, first and last included."""
    if not 1 <= k <= total:
        raise ValueError(f"--layers must be between 1 and {total}")
    if k == 1:
        return [total - 1]
    return sorted({round(i * (total - 1) / (k - 1)) for i in range(k)})


def _batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of texts of similar token length (little padding), in a seeded random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _embed(model, texts: list[str]):
    features = model.preprocess(texts)
    features = {k: v for k, v in features.items() if hasattr(v, "shape")}
    return model(features)["sentence_embedding"]


def teacher_vectors(teacher, texts: list[str], teacher_key: str, batch: int) -> np.ndarray:
    import torch

    digest = hashlib.sha256("\x00".join([teacher_key, *texts]).encode()).hexdigest()[:20]
    path = CACHE_DIR / f"teacher-{digest}.npy"
    if path.is_file():
        return np.load(path)
    started = time.perf_counter()
    lengths = [len(t) for t in texts]
    out = np.zeros((len(texts), teacher.get_embedding_dimension()), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    with torch.inference_mode():
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            out[idx] = _embed(teacher, [texts[j] for j in idx]).float().numpy()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    print(
        f"  teacher: {len(texts)} texts in {time.perf_counter() - started:.0f}s (cached {path.name})"
    )
    return out


def distill(student, texts: list[str], targets: np.ndarray, args) -> dict:
    import torch

    encoder = student[0].auto_model
    for param in encoder.embeddings.parameters():  # 250k-row vocabulary: keep as the teacher's
        param.requires_grad = False
    params = [p for p in student.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    tokenizer = student.tokenizer
    lengths = [
        min(len(ids), args.max_tokens)
        for ids in tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    ]
    rng = random.Random(SEED)
    plan = [b for _ in range(args.epochs) for b in _batches(lengths, args.batch, rng)]
    if args.steps:
        plan = plan[: args.steps]
    warmup = max(1, len(plan) // 10)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (len(plan) - step) / max(1, len(plan) - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_at)
    target = torch.from_numpy(targets)
    # Dropout off (eval mode): the student should reproduce the teacher, not regularise on a
    # few thousand texts. Gradients still flow.
    student.eval()
    started, losses = time.perf_counter(), []
    for step, idx in enumerate(plan):
        emb = _embed(student, [texts[i] for i in idx])
        # Both sides are unit vectors; scaled so the loss reads as 1 - cosine on average.
        loss = torch.nn.functional.mse_loss(emb, target[idx]) * emb.shape[1] / 2
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0 or step == len(plan) - 1:
            recent = float(np.mean(losses[-50:]))
            print(
                f"  step {step + 1}/{len(plan)} loss {recent:.4f} "
                f"({time.perf_counter() - started:.0f}s)",
                flush=True,
            )
    student.eval()
    return {
        "steps": len(plan),
        "final_loss": round(float(np.mean(losses[-50:])), 5) if losses else None,
        "train_seconds": round(time.perf_counter() - started, 1),
    }


# --- Build ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="teacher directory, e.g. var/models/default")
    parser.add_argument("target", type=Path, help="output directory, e.g. var/models/e5s-L8")
    parser.add_argument("--layers", type=int, required=True, help="layers to keep (of 12)")
    parser.add_argument("--max-tokens", type=int, default=128, help="student input length")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--steps", type=int, default=0, help="stop after N steps (0: all)")
    parser.add_argument("--limit-texts", type=int, default=0, help="train on N texts (0: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: up to 2)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)

    source_info_path = args.source / "BUILD_INFO.json"
    if not source_info_path.is_file():
        sys.exit(f"error: {source_info_path} not found (build the default model first)")
    source_info = json.loads(source_info_path.read_text())
    teacher_key = (
        f"{source_info['model']}:{source_info['build_version']}:{source_info['source_sha256']}"
    )
    pairs = training_texts(args.limit_texts)
    recipe = {
        "recipe": RECIPE,
        "layers": args.layers,
        "max_tokens": args.max_tokens,
        "epochs": args.epochs,
        "batch": args.batch,
        "lr": args.lr,
        "steps": args.steps,
        "seed": SEED,
    }
    text_digest = hashlib.sha256("\x00".join(f"{k}\x01{t}" for k, t in pairs).encode()).hexdigest()
    digest = hashlib.sha256(
        json.dumps(
            {"teacher": teacher_key, "recipe": recipe, "texts": text_digest}, sort_keys=True
        ).encode()
    ).hexdigest()
    short = (
        ""
        if (args.epochs, args.steps, args.limit_texts) == (1, 0, 0)
        else f"-e{args.epochs}s{args.steps}n{args.limit_texts}"
    )
    info = {
        "model": f"{source_info['model']}-L{args.layers}",
        "build_version": f"e5s-L{args.layers}-len{args.max_tokens}-{RECIPE}{short}",
        "source_sha256": digest,
        "max_seq_length": args.max_tokens,
        "teacher": teacher_key,
        "recipe": recipe,
        "train_texts": len(pairs),
        "train_texts_sha256": text_digest,
    }
    target: Path = args.target
    if not args.force and is_current(target, info):
        print(f"{target}: already built ({info['build_version']}, digest {digest[:12]})")
        return 0

    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    random.seed(SEED)
    np.random.seed(SEED)
    threads = args.threads or min(2, torch.get_num_threads())
    torch.set_num_threads(threads)

    start = time.perf_counter()
    teacher = SentenceTransformer(str(args.source), device="cpu")
    teacher.eval()
    teacher_length = teacher.max_seq_length
    texts = _prompted(pairs)
    print(f"{len(texts)} training texts; teacher at {teacher_length} tokens")
    targets = teacher_vectors(teacher, texts, f"{teacher_key}:tok{teacher_length}", args.batch)
    del teacher

    student = SentenceTransformer(str(args.source), device="cpu")
    encoder = student[0].auto_model
    total = encoder.config.num_hidden_layers
    kept = keep_layers(total, args.layers)
    encoder.encoder.layer = torch.nn.ModuleList([encoder.encoder.layer[i] for i in kept])
    encoder.config.num_hidden_layers = len(kept)
    student.max_seq_length = args.max_tokens
    print(f"student: layers {kept} of {total}, {args.max_tokens} tokens")
    info["kept_layers"] = kept
    info.update(distill(student, texts, targets, args))

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        out_dir = Path(tmp) / "st"
        student.save(str(out_dir))
        info["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        (out_dir / "BUILD_INFO.json").write_text(json.dumps(info, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        out_dir.rename(target)
    print(f"wrote {target} in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
