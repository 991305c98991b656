"""The real openai client against a real HTTP server on 127.0.0.1 that replays scripted replies."""
from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from moviefactory.errors import ConfigError, PlanningError
from moviefactory.planner.llm import ChatClient, LLMSettings, extract_json

from fake_openai import FakeOpenAI, Reply

KEY = "sk-test-secret-123456"


class Beat(BaseModel):
    title: str
    seconds: float = Field(gt=0)


GOOD = json.dumps({"title": "Launch", "seconds": 4})
ASK = [{"role": "user", "content": "one beat please"}]


def client(server, **kw) -> ChatClient:
    return ChatClient(LLMSettings(model="test-model", base_url=server.base_url, api_key=KEY,
                                  timeout=kw.pop("timeout", 2), max_retries=kw.pop("max_retries", 2), **kw))


def test_schema_is_sent_and_the_reply_parsed():
    with FakeOpenAI([Reply(GOOD)]) as server:
        beat = client(server).structured(ASK, Beat, stage="outline")
    assert beat == Beat(title="Launch", seconds=4)
    body = server.requests[0].body
    assert body["model"] == "test-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["seconds"]["exclusiveMinimum"] == 0
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_invalid_json_then_schema_violation_are_repaired_with_the_errors_shown():
    with FakeOpenAI([Reply("not json at all"), Reply('{"title": "x", "seconds": -1}'), Reply(GOOD)]) as server:
        beat = client(server).structured(ASK, Beat, stage="outline")
    assert beat.seconds == 4
    second, third = server.requests[1].body["messages"], server.requests[2].body["messages"]
    assert "no JSON object" in second[-1]["content"]
    assert "seconds: Input should be greater than 0" in third[-1]["content"]
    assert third[-2] == {"role": "assistant", "content": '{"title": "x", "seconds": -1}'}


def test_repairs_are_bounded_and_the_last_problem_is_named():
    with FakeOpenAI(default=Reply('{"title": "x"}')) as server:
        with pytest.raises(PlanningError, match="still invalid after 2 tries: seconds: Field required"):
            client(server, max_repairs=1).structured(ASK, Beat, stage="outline")
    assert len(server.requests) == 2


def test_rate_limit_and_server_errors_are_retried_with_backoff():
    with FakeOpenAI([Reply(status=429), Reply(status=503), Reply(GOOD)]) as server:
        assert client(server).structured(ASK, Beat, stage="outline").title == "Launch"
    assert len(server.requests) == 3


def test_persistent_429_becomes_a_clear_planning_error():
    with FakeOpenAI(default=Reply(status=429, error="slow down")) as server:
        with pytest.raises(PlanningError) as err:
            client(server, max_retries=1).structured(ASK, Beat, stage="outline")
    assert "rate-limiting (429)" in str(err.value) and "2 tries" in str(err.value)


def test_a_timeout_is_retried_then_reported():
    with FakeOpenAI([Reply(GOOD, delay=1.5), Reply(GOOD)]) as server:
        assert client(server, max_retries=1, timeout=0.5).structured(ASK, Beat, stage="outline").title == "Launch"
    with FakeOpenAI(default=Reply(GOOD, delay=1.5)) as server:
        with pytest.raises(PlanningError, match="timed out"):
            client(server, max_retries=0, timeout=0.5).structured(ASK, Beat, stage="outline")


def test_servers_without_json_schema_fall_back_to_json_mode_then_prompt():
    rejected = Reply(status=400, error="response_format json_schema is not supported by this model")
    with FakeOpenAI([rejected, Reply(status=400, error="json_object response_format unsupported"),
                     Reply("Here you go:\n```json\n" + GOOD + "\n```")]) as server:
        c = client(server)
        assert c.structured(ASK, Beat, stage="outline").title == "Launch"
    assert c.mode == "prompt"
    last = server.requests[-1].body
    assert "response_format" not in last
    assert '"seconds"' in last["messages"][-1]["content"] and "fenced" in last["messages"][-1]["content"]


def test_the_api_key_never_appears_in_errors():
    with FakeOpenAI(default=Reply(status=401, error=f"Incorrect API key provided: {KEY}")) as server:
        with pytest.raises(PlanningError) as err:
            client(server).structured(ASK, Beat, stage="outline")
    assert KEY not in str(err.value) and "***" in str(err.value)
    assert KEY not in repr(LLMSettings(api_key=KEY))


@pytest.mark.parametrize("text", [GOOD, f"```json\n{GOOD}\n```", f"Sure! {GOOD} Enjoy."])
def test_extract_json_accepts_common_reply_shapes(text):
    assert extract_json(text) == {"title": "Launch", "seconds": 4}


def test_settings_resolve_from_flags_config_and_environment():
    assert LLMSettings.resolve(None, None, {}, env={}) is None
    s = LLMSettings.resolve(None, None, {}, env={"OPENAI_API_KEY": KEY})
    assert s.model == "gpt-4o-mini" and s.api_key == KEY and KEY not in json.dumps(s.public())
    s = LLMSettings.resolve("qwen2.5:14b", "http://localhost:11434/v1", {}, env={})
    assert s.base_url.endswith("/v1") and s.api_key is None
    s = LLMSettings.resolve(None, None, {"model": "m", "base_url": "http://h/v1", "timeout": 5}, env={})
    assert (s.model, s.timeout) == ("m", 5)
    with pytest.raises(ConfigError, match="needs an API key"):
        LLMSettings.resolve("gpt-4o", None, {}, env={})
