"""The botocore hooks that answer `batch` clients in-process.

Installed once, at `import localbatch`, and inert while no patch is active:

* every `batch` client created from then on gets two handlers. At
  `before-parameter-build` the caller's kwargs are put in the request context;
  at `before-call` (botocore has validated and serialised by then, and has not
  signed or sent anything) the active patch answers from those kwargs. This is
  the cheapest point to answer: `before-send` would pay for signing first.
* a batch client created while patched gets the patch's default region when
  none is configured, and fake credentials when the session has none, so no
  credential provider (and no instance-metadata lookup) ever runs.
* as a last guard, `Endpoint.make_request` refuses to send a Batch request
  while patched: a client created before `import localbatch` has no handlers,
  and must fail loudly rather than reach AWS.
"""

from __future__ import annotations

from typing import Any

from botocore import client as botocore_client
from botocore import endpoint as botocore_endpoint
from botocore import session as botocore_session
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from localbatch import service_model
from localbatch.errors import LocalBatchError

# The stack of active controllers; the top one answers. The only
# module-level state in localbatch.
ACTIVE: list[Any] = []

_PARAMS_KEY = "localbatch.params"
_ENDPOINT = "https://batch.localbatch.invalid"


def active() -> Any | None:
    return ACTIVE[-1] if ACTIVE else None


class _EmptyBody:
    def stream(self, **kwargs: Any) -> Any:
        return iter((b"",))


def _http_response(status: int) -> AWSResponse:
    headers = HTTPHeaders()
    headers["content-type"] = "application/json"
    return AWSResponse(_ENDPOINT, status, headers, _EmptyBody())


# after-call handlers only read these; they are never mutated.
_HTTP = {status: _http_response(status) for status in (200, 400, 500)}


class _ClientHooks:
    """The handlers of one batch client, which knows its region."""

    __slots__ = ("region",)

    def __init__(self, region: str) -> None:
        self.region = region

    def before_parameter_build(self, params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        if ACTIVE:
            context[_PARAMS_KEY] = params

    def before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> Any:
        if not ACTIVE:
            return None
        lb = ACTIVE[-1]
        # `params` is botocore's request dict: its body is the serialised
        # request, whose size SubmitJob limits.
        body = params.get("body")
        size = len(body) if isinstance(body, bytes) else None
        status, body, request_id = lb.call(self.region, model.name, context.get(_PARAMS_KEY) or {}, size)
        headers = {"x-amzn-requestid": request_id, "content-type": "application/json"}
        if status != 200:
            headers["x-amzn-errortype"] = body["Error"]["Code"]
        body["ResponseMetadata"] = {
            "RequestId": request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
            "RetryAttempts": 0,
        }
        return _HTTP[status], body


def _register(client: Any) -> None:
    hooks = _ClientHooks(client.meta.region_name)
    events = client.meta.events
    events.register("before-parameter-build.batch", hooks.before_parameter_build, unique_id="localbatch-params")
    events.register("before-call.batch", hooks.before_call, unique_id="localbatch-answer")


_original_client_creator = botocore_client.ClientCreator.create_client
_original_session_create_client = botocore_session.Session.create_client
_original_make_request = botocore_endpoint.Endpoint.make_request


def _client_creator_create_client(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    client = _original_client_creator(self, *args, **kwargs)
    if client.meta.service_model.service_name == "batch":
        _register(client)
    return client


# Session.create_client(service_name, region_name, api_version, use_ssl,
# verify, endpoint_url, aws_access_key_id, aws_secret_access_key,
# aws_session_token, config, ...): positions of the arguments we read or fill.
_REGION_POS = 0
_KEY_POS = 5
_CONFIG_POS = 8


def _session_create_client(self, service_name, *args, **kwargs):  # type: ignore[no-untyped-def]
    lb = active()
    if lb is not None and service_name == "batch":
        if len(args) <= _REGION_POS and kwargs.get("region_name") is None:
            config = args[_CONFIG_POS] if len(args) > _CONFIG_POS else kwargs.get("config")
            if not _has_region(self, config):
                kwargs["region_name"] = lb.default_region
        if len(args) <= _KEY_POS and kwargs.get("aws_access_key_id") is None and self._credentials is None:
            if not _has_env_credentials(self):
                kwargs["aws_access_key_id"] = "localbatch"
                kwargs["aws_secret_access_key"] = "localbatch"
    return _original_session_create_client(self, service_name, *args, **kwargs)


def _has_region(session: Any, config: Any) -> bool:
    # Where botocore looks for a region when none is passed: the client's
    # Config, the session's default Config, then environment and config file.
    for candidate in (config, session.get_default_client_config()):
        if candidate is not None and candidate.region_name is not None:
            return True
    return session.get_config_variable("region") is not None


def _has_env_credentials(session: Any) -> bool:
    # Cheap checks only: a profile or environment keys mean "credentials are
    # set". Anything deeper would run the provider chain, which may call the
    # network (instance metadata).
    import os

    return bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE") or session.profile)


def _endpoint_make_request(self, operation_model, request_dict):  # type: ignore[no-untyped-def]
    if ACTIVE and operation_model.service_model.service_name == "batch":
        raise LocalBatchError(
            f"a Batch {operation_model.name} request tried to leave the process while localbatch is "
            "patched: its client was created before `import localbatch`. Import localbatch first."
        )
    return _original_make_request(self, operation_model, request_dict)


def install() -> None:
    """Install the hooks (idempotent). Called by `import localbatch`."""
    service_model.install_loader_hook()
    botocore_client.ClientCreator.create_client = _client_creator_create_client
    botocore_session.Session.create_client = _session_create_client
    botocore_endpoint.Endpoint.make_request = _endpoint_make_request
