"""API Gateway emulator for the local stack: REST proxy events for the template's Api routes."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any

from presence_manager_local.lambda_runtime import CapturedOutput, LambdaContext
from presence_manager_local.local_template import Handler

# ---- API Gateway emulator --------------------------------------------------------------------------------------


class ApiGatewayEmulator:
    """REST API (v1 proxy events) for the template's Api routes, dispatched to the handler in-process."""

    def __init__(self, routes: list[tuple[str, str, Handler]], output: CapturedOutput) -> None:
        self._routes = [
            (method, template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), handler)
            for method, template, handler in routes
        ]
        self._output = output
        self._server: Any = None

    def start(self, port: int) -> int:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", port, self._app, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="api-emulator", daemon=True).start()
        return self._server.server_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        for method, template, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                response = self._call(handler, request, template, match.groupdict())
                return response(environ, start_response)
        body = json.dumps({"message": "Missing Authentication Token"})
        return Response(body, status=403, content_type="application/json")(environ, start_response)

    def _call(self, handler: Handler, request: Any, template: str, params: dict[str, str]) -> Any:
        from werkzeug.wrappers import Response

        query = request.args
        event = {
            "resource": template,
            "path": request.path,
            "httpMethod": request.method,
            "headers": dict(request.headers),
            "multiValueHeaders": {k: request.headers.getlist(k) for k, _ in request.headers.items()},
            "queryStringParameters": {k: query.get(k) for k in query} or None,
            "multiValueQueryStringParameters": {k: query.getlist(k) for k in query} or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "stage": "v1",
                "requestId": str(uuid.uuid4()),
                "resourcePath": template,
                "httpMethod": request.method,
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {
                    "sourceIp": request.remote_addr,
                    "userArn": None,
                    "caller": f"local:{request.remote_addr}",
                },
            },
            "body": request.get_data(as_text=True) or None,
            "isBase64Encoded": False,
        }
        with self._output.capturing():
            try:
                result = handler(event, LambdaContext("api"))
            except Exception:
                return Response(
                    json.dumps({"message": "Internal server error"}), status=502, content_type="application/json"
                )
        headers = {**(result.get("headers") or {})}
        response = Response(result.get("body") or "", status=result["statusCode"], headers=headers)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(name, value)
        return response
