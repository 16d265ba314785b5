"""Rate limiting: a token bucket per integration on emulator time (setting ``rate_limit``).

A throttled request changes nothing but the activity log; advancing the clock refills the bucket.
"""

from __future__ import annotations

import math

from .clock import MAX_STEP_SECONDS
from .codes import RATE_LIMITED
from .errors import ApiError
from .store import Tenant, TokenBucket

# A wait longer than one step of the clock (ten years) is said as that step: a rate of 1e-300
# requests/s would otherwise promise a wait too long for any JSON number or Retry-After parser.
MAX_WAIT_SECONDS = int(MAX_STEP_SECONDS)


def throttle(tenant: Tenant, operation: str) -> dict[str, str]:
    """Spend a token of the tenant's bucket or raise 429; a throttled request changes nothing.

    Returns the ``RateLimit-*`` headers (IETF draft) every answer carries while a limit is on.
    """
    rate = tenant.settings.rate_limit
    if rate is None:
        tenant.bucket = None
        return {}
    now = tenant.now()
    bucket = tenant.bucket
    if bucket is None or bucket.rate != rate or bucket.burst != tenant.settings.rate_limit_burst:
        bucket = tenant.bucket = TokenBucket(rate, tenant.settings.rate_limit_burst, now)
    wait = bucket.take(now)
    refill = min((bucket.burst - bucket.tokens) / rate, MAX_WAIT_SECONDS) if rate > 0 else 3600.0
    headers = {
        "RateLimit-Limit": str(bucket.burst),
        "RateLimit-Remaining": str(int(bucket.tokens)),
        "RateLimit-Reset": str(max(0, math.ceil(refill - 1e-9))),
    }
    if wait is None:
        return headers
    retry_after = min(max(1, math.ceil(wait - 1e-9)), MAX_WAIT_SECONDS) if math.isfinite(wait) else 3600
    tenant.note(
        now,
        "warning",
        "rate_limited",
        f"{operation} throttled; retry after {retry_after}s",
        retry_after_seconds=retry_after,
    )
    error = rate_limited(retry_after, f"rate limit of {rate:g} requests/s exceeded")
    error.headers.update(headers)
    raise error


def rate_limited(retry_after: int, detail: str) -> ApiError:
    return ApiError.of(
        RATE_LIMITED,
        f"{detail}; retry after {retry_after}s",
        retry_after_seconds=retry_after,
        headers={"Retry-After": str(retry_after)},
    )
