"""A fake OpenAI-compatible endpoint for tests: a real HTTP server on a loopback port that
answers chat-completion requests with OpenAI-shaped JSON from a script (status codes and
contents) or from a function of the request, so the real `openai` client, its error
classes and the policies' retry and fallback logic all run for real.

Imported by its bare name from tests/ (as `llm_server`; see tests/conftest.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any]  # (HTTP status, JSON body; bytes are sent as they are)


def chat_reply(content: str | None = None, tool_args: str | None = None,
               usage: dict[str, int] | None = None) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_args is not None:
        message["tool_calls"] = [{"id": "call_0", "type": "function",
                                  "function": {"name": "decide", "arguments": tool_args}}]
    body: dict[str, Any] = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                            "choices": [{"index": 0, "message": message,
                                         "finish_reason": "stop"}]}
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return 200, body


def error_reply(status: int, text: str = "error") -> Reply:
    return status, {"error": {"message": text, "type": "server_error"}}


class ScriptedEndpoint:
    """A real HTTP server answering POST /v1/chat/completions from a list of replies (the
    last one repeats), or from a function of the request; records every request body."""

    def __init__(self, replies: list[Reply] | Callable[[dict[str, Any]], Reply]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                request = json.loads(self.rfile.read(length))
                endpoint.requests.append(request)
                replies = endpoint.replies
                if callable(replies):
                    status, body = replies(request)
                else:
                    status, body = replies[min(len(endpoint.requests), len(replies)) - 1]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
