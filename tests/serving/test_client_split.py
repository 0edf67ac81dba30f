"""The REST client splits a batch larger than the server's limit; generate -o is careful."""

import numpy as np
import pytest
from export_testing import running_server

from tf_t2i.cli.main import cli
from tf_t2i.serving.client import RestClient


@pytest.fixture(scope="module")
def small_batch_server(exported):
    with running_server(exported, max_batch=4) as server:
        yield server


def test_a_batch_over_the_server_limit_is_sent_in_parts(small_batch_server):
    client = RestClient(small_batch_server.url, "tiny")
    seeds = list(range(10))
    out = client.predict({"text": ["a red circle"] * 10, "seed": seeds})
    assert out["images"].shape[0] == 10 and client.max_batch == 4
    # the last part was rows 8 and 9 (noise is drawn per row of each request)
    last = client.predict({"text": ["a red circle"] * 2, "seed": [8, 9]})["images"]
    np.testing.assert_array_equal(out["images"][8:], last)


def test_generate_through_a_server_with_more_images_than_its_limit(
    small_batch_server, runner, tmp_path
):
    out = tmp_path / "grid.png"
    url = f"{small_batch_server.url}/tiny"
    args = ["generate", "--server", url, "a red circle", "-n", "9", "--grid", "-o", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "wrote 9 image(s)" in result.output
    again = runner.invoke(cli, args)  # the file exists now
    assert again.exit_code == 2 and "exists already; pass --overwrite" in again.output
    assert runner.invoke(cli, [*args, "--overwrite"]).exit_code == 0
    missing = runner.invoke(cli, [*args[:-1], str(tmp_path / "no" / "such" / "x.png")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert not (tmp_path / "no").exists()
