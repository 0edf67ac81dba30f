"""The --max-caption-bytes / --max-caption-tokens options shared by serve, export and convert."""

import click

from tf_t2i.text.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_TOKENS


def caption_limit_options(command):
    """Adds both options; the command receives max_caption_bytes and max_caption_tokens."""
    for name, default, unit in (
        ("--max-caption-tokens", DEFAULT_MAX_TOKENS, "whitespace-separated words"),
        ("--max-caption-bytes", DEFAULT_MAX_BYTES, "UTF-8 bytes"),
    ):
        command = click.option(
            name,
            default=default,
            show_default=True,
            type=click.IntRange(1),
            help=f"Longest caption accepted, in {unit}.",
        )(command)
    return command
