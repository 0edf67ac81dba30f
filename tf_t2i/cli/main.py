"""The `t2i` Click group. Each command lives in its own module in this package
and is registered here; heavy imports happen inside command bodies so that
`t2i --help` stays instant."""

import importlib

import click

from tf_t2i import __version__

# command name -> "module:function"; loaded lazily so --help never imports TF.
COMMANDS = {
    "encode": "tf_t2i.cli.encode:encode",
    "convert": "tf_t2i.cli.convert:convert",
    "fit": "tf_t2i.cli.fit:fit",
    "export": "tf_t2i.cli.export:export",
    "generate": "tf_t2i.cli.generate:generate",
    "serve": "tf_t2i.cli.serve:serve",
    "evaluate": "tf_t2i.cli.evaluate:evaluate",
    "evaluator": "tf_t2i.cli.evaluate:evaluator",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when they are invoked."""

    def list_commands(self, ctx):
        return sorted(name for name in COMMANDS if self._find(name) is not None)

    def get_command(self, ctx, name):
        return self._find(name)

    @staticmethod
    def _find(name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:  # command not written yet
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="t2i")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show TensorFlow's C++ log lines (hidden by default; a TF_CPP_MIN_LOG_LEVEL "
    "you set is kept).",
)
def cli(verbose):
    """tf_t2i: text-to-image GANs on Keras and TensorFlow.

    \b
    t2i convert shapes --out data/shapes   # captioned data -> TFRecords
    t2i fit                                # train the default model
    t2i export runs/shapes                 # SavedModel for TF Serving
    t2i generate runs/shapes "a red circle"
    """
    from tf_t2i.cli.quiet import set_tensorflow_logging

    set_tensorflow_logging(verbose)
