"""The OpenAI-compatible HTTP backend against a real server on loopback: llama-cpp-python's
own server (the `server` extra) serving SmolLM2 from its PyPI package."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from agenther_local.errors import AgentherError
from agenther_local.judges.http import HttpJudge
from agenther_local.judges.manifest import get_manifest, verify
from agenther_local.prompts import Prompts
from agenther_local.trajectory import Step, Trajectory

pytestmark = pytest.mark.real_model

RUN = Trajectory("p", "Find the population of Paris", (
    Step("look it up", "search", {"q": "Paris population"},
         "Paris has a population of 2,102,650 residents as of 2023 (INSEE)."),), "2,102,650")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w+b")   # a PIPE would fill and block the server
    gguf = verify(get_manifest("smollm2-135m"))
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--chat_format", "chatml"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    t0 = time.time()
    while True:
        try:
            urllib.request.urlopen(url + "/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail("llama_cpp.server exited: " + log.read().decode(errors="replace")[-2000:])
            if time.time() - t0 > 120:
                proc.kill()
                pytest.fail("llama_cpp.server did not start in 120 s")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_p_yes_over_http_is_a_probability(server):
    j = HttpJudge("smollm2-http", server, "smollm2")
    r = Prompts().render("verify", traj=RUN, goal="How many residents did Paris have in 2023?")
    s = j.p_yes(r)
    assert 0.0 <= s.p_yes <= 1.0 and s.mass > 0
    assert j.p_yes(r).p_yes == pytest.approx(s.p_yes, abs=1e-6)   # temperature 0: repeatable


# A small goal schema and a relabel prompt about RUN, shared by the constrained-JSON tests.
GOAL_SCHEMA = {"type": "object", "properties": {"goal": {"type": "string", "maxLength": 80}, "valid": {"type": "boolean"}},
               "required": ["goal", "valid"]}


def relabel_prompt():
    return Prompts().render("relabel", traj=RUN, outcome={"facts": [{"text": "Paris: 2,102,650 residents (2023)"}]},
                            original_goal=RUN.goal)


def test_constrained_json_over_http_parses(server):
    j = HttpJudge("smollm2-http", server, "smollm2")
    g = j.generate_json(relabel_prompt(), GOAL_SCHEMA, 0.3, 1, 80)
    assert g.error is None, g.text
    assert set(g.data) == {"goal", "valid"} and isinstance(g.data["valid"], bool)


def test_a_draft_cut_by_the_server_says_so(server):
    """Five tokens cannot hold this JSON: the server stops at the limit, and the judge reports a
    cut (finish "length"), not a bare parse error."""
    j = HttpJudge("smollm2-http", server, "smollm2")
    g = j.generate_json(relabel_prompt(), GOAL_SCHEMA, 0.3, 1, 5)
    assert g.finish == "length" and g.data is None
    assert g.error == "cut at the token budget of 5 before the JSON closed"


def test_unreachable_server_is_one_clear_line():
    j = HttpJudge("gone", f"http://127.0.0.1:{free_port()}/v1", "m", timeout=2)
    with pytest.raises(AgentherError, match=r"^model 'gone': cannot reach http://127\.0\.0\.1:\d+/v1"):
        j.p_yes(Prompts().render("verify", traj=RUN, goal="x"))
