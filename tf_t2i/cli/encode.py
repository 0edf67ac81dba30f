"""`t2i encode`: sentences -> a float32 [N, D] .npy of text embeddings."""

import pathlib

import click

from tf_t2i.cli.errors import user_errors
from tf_t2i.errors import T2IError


@click.command()
@click.argument("texts", nargs=-1)
@click.option(
    "--file",
    "caption_file",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    help="UTF-8 text file, one sentence per line (after the TEXT arguments).",
)
@click.option(
    "--encoder",
    "spec",
    default="use-m3",
    show_default=True,
    help="use-m3, a TF Hub handle, or a local SavedModel directory.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default="embeddings.npy",
    show_default=True,
    help="Where to write the float32 [N, D] array.",
)
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1))
@user_errors
def encode(texts, caption_file, spec, out, batch_size):
    """Embeds sentences with a text encoder and writes them as a .npy array.

    \b
    t2i encode "a small red bird" "a white flower" --out emb.npy
    t2i encode --file captions.txt --encoder use-m3
    t2i encode --file captions.txt --encoder https://tfhub.dev/google/universal-sentence-encoder/4

    Prints N, D and the encoder's fingerprint.
    """
    sentences = list(texts)
    if caption_file is not None:
        sentences += read_lines(caption_file)  # before importing TF: bad input fails fast

    import numpy as np

    from tf_t2i.text.encoder import load_encoder

    encoder = load_encoder(spec)
    embeddings = encoder.encode(sentences, batch_size=batch_size)  # float32 [N, D]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, embeddings)
    click.echo(
        f"N={embeddings.shape[0]} D={embeddings.shape[1]} "
        f"encoder={encoder.spec} fingerprint={encoder.fingerprint} -> {out}"
    )


def read_lines(path: pathlib.Path) -> list[str]:
    """Reads one sentence per line (an empty line is an empty sentence).

    Args:
        path: a UTF-8 text file; a final newline does not add a sentence, a
            byte order mark at the start is dropped.

    Returns:
        The lines without their line endings.

    Raises:
        T2IError: a line is not valid UTF-8 (names the file and line number).
    """
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    sentences = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError as err:
            raise T2IError(
                f"{path}, line {number}: not valid UTF-8 ({err.reason} at byte {err.start}); "
                "save the file as UTF-8"
            ) from None
        sentences.append(line.removeprefix("\ufeff") if number == 1 else line)
    return sentences
