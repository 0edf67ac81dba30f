import subprocess
import sys

from tf_t2i.cli.main import cli


def test_help_lists_commands_without_importing_tensorflow():
    code = (
        "import sys; from click.testing import CliRunner; from tf_t2i.cli.main import cli;"
        "r = CliRunner().invoke(cli, ['--help'], prog_name='t2i'); print(r.output);"
        "assert 'tensorflow' not in sys.modules, 'TF imported by --help'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Usage: t2i" in out.stdout


def test_unknown_command_is_a_clear_error(runner):
    result = runner.invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output
