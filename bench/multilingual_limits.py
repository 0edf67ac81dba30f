"""What bounds colour x kind accuracy from non-English captions: the encoder or G?

bench/multilingual.py measures G's accuracy from captions in five languages. This
asks where the gap comes from, on the same 1296 templated captions per language:

1. The encoder. For each translated caption, the English caption whose USE-m3
   embedding is nearest (cosine): how often does it name the same colour, kind,
   and both? A G that drew exactly the nearest English caption would inherit
   these rates. "centred" subtracts each language's mean embedding first (an
   oracle that knows the language), the known remedy for a language offset.
2. Off-manifold directions. G saw only the training captions' embeddings. The
   run's G is scored again with every embedding projected onto the top-k
   principal directions of the training captions' embeddings (around their
   mean): if the gap came from directions G never saw, this would close it.

    .venv/bin/python -m bench.multilingual_limits RUN --data DIR [--ks 32,128] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from bench import multilingual

LANGUAGES = tuple(multilingual.LANGUAGES)


def train_embeddings(data_dir: pathlib.Path) -> np.ndarray:
    """float32 [N, D]: every caption embedding of the data set's train split."""
    import tensorflow as tf

    from tf_t2i.data import schema

    manifest = schema.read_manifest(data_dir)
    spec = schema.feature_spec()
    rows = []
    for record in tf.data.TFRecordDataset(manifest.shard_files(data_dir, "train")):
        example = tf.io.parse_single_example(record, spec)
        rows.append(tf.sparse.to_dense(example[schema.EMBEDDINGS]).numpy())
    return np.concatenate(rows).reshape(-1, manifest.embedding_dim).astype(np.float32)


def neighbour_rates(embeddings: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Language -> {colour, kind, both} agreement of the nearest English caption, raw and centred."""
    combos = multilingual.combinations()
    colours = np.array([c[0] for c in combos])
    kinds = np.array([c[1] for c in combos])

    def nearest(queries, references):
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        r = references / np.linalg.norm(references, axis=1, keepdims=True)
        return np.argmax(q @ r.T, axis=1)

    english = embeddings["English"]
    rates = {}
    for language in LANGUAGES[1:]:
        queries = embeddings[language]
        for name, (q, r) in {
            "raw": (queries, english),
            "centred": (queries - queries.mean(0), english - english.mean(0)),
        }.items():
            j = nearest(q, r)
            rates[f"{language}, {name}"] = {
                "colour": float(np.mean(colours[j] == colours)),
                "kind": float(np.mean(kinds[j] == kinds)),
                "both": float(np.mean((colours[j] == colours) & (kinds[j] == kinds))),
            }
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=pathlib.Path, help="a t2i fit run directory")
    parser.add_argument("--data", type=pathlib.Path, required=True)
    parser.add_argument("--ks", default="32,128", help="principal directions kept")
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("bench/results/multilingual_limits.md")
    )
    args = parser.parse_args()

    from tf_t2i.text.encoder import load_encoder
    from tf_t2i.training.run_dir import load_run

    run = load_run(args.run)
    encoder = load_encoder(run.encoder_spec)
    embeddings = {
        language: np.asarray(encoder.encode(multilingual.captions(language)), np.float32)
        for language in LANGUAGES
    }
    rates = neighbour_rates(embeddings)

    train = train_embeddings(args.data)
    mean = train.mean(0)
    _, singular, directions = np.linalg.svd(train - mean, full_matrices=False)
    explained = np.cumsum(singular**2) / np.sum(singular**2)
    projected = {}
    for k in [int(k) for k in args.ks.split(",")]:
        basis = directions[:k]

        def draw(texts, noise, basis=basis):
            e = np.asarray(encoder.encode(list(texts)), np.float32)
            e = (mean + (e - mean) @ basis.T @ basis).astype(np.float32)
            return np.asarray(run.gan.generate({"embeddings": e}, noise=noise))

        # the same scoring, with projected embeddings
        drawer = (draw, run.gan.model_config.z_dim)
        projected[k] = multilingual.score(args.run, args.data, log=lambda *a: None, drawer=drawer)
        print(f"k={k}: {projected[k]}", flush=True)

    lines = [
        "# What bounds colour x kind accuracy from non-English captions",
        "",
        f"Command: `.venv/bin/python -m bench.multilingual_limits {' '.join(sys.argv[1:])}`",
        "",
        f"Run `{args.run}`; data `{args.data}` ({len(train)} train caption embeddings). "
        "The same 1296 templated captions per language as bench/multilingual.py.",
        "",
        "## 1. The encoder: the nearest English caption of each translation",
        "",
        "| language | same colour | same kind | same colour x kind |",
        "|---|---|---|---|",
        *[
            f"| {name} | {r['colour']:.3f} | {r['kind']:.3f} | {r['both']:.3f} |"
            for name, r in rates.items()
        ],
        "",
        "## 2. G on embeddings projected onto the training captions' principal directions",
        "",
        "| directions kept (variance explained) | "
        + " | ".join(f"{language} c x k" for language in LANGUAGES)
        + " |",
        "|---|" + "---|" * len(LANGUAGES),
    ]
    for k, results in projected.items():
        cells = [f"{results[language]['color_kind']:.3f}" for language in LANGUAGES]
        lines.append(f"| {k} ({explained[k - 1]:.3f}) | " + " | ".join(cells) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
