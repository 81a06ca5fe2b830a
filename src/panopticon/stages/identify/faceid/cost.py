"""Hardware cost of exhaustive 1:N search: bytes read, server time, servers needed.

Every template is compared (no index, no pruning): a search streams the whole gallery
from memory, so cost grows with G just as the false positives do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from panopticon.stages.identify.faceid.checks import FaceIdError, check_gallery
from panopticon.stages.identify.faceid.model import FrozenModel
from panopticon.stages.identify.faceid.nist import CLAIM_LATENCY_S

#: Searches per day for the cost estimate: ASSUMPTION, one search per ID-photo holder.
DEFAULT_SEARCHES_PER_DAY = 1.3e9


class SearchHardware(FrozenModel):
    """Template size and per-server throughput for an exhaustive 1:N search.

    Defaults are ASSUMPTIONS: 512-byte templates of int8 elements, 200 GB/s sustained
    memory bandwidth, 5e12 int8 multiply-adds per second and 512 GiB memory per server.
    """

    template_bytes: Annotated[int, Field(ge=1)] = 512
    element_bytes: Annotated[int, Field(ge=1)] = 1
    memory_bandwidth: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 200e9
    compute_ops: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 5e12
    server_memory: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 512.0 * 2**30
    batch_size: Annotated[int, Field(ge=1)] = 1


@dataclass(frozen=True, slots=True)
class SearchCost:
    """Memory traffic, compute and servers for exhaustive 1:N searches.

    One pass streams all G templates (G * template_bytes) from memory and compares them
    with `batch_size` probes; a search's share of the traffic is G * template_bytes /
    batch_size. `seconds_per_pass` (one server, the whole gallery) is the latency of one
    search; `seconds_per_search` is the server time one search costs when batched.
    servers_for_latency shards the gallery so that one pass meets the latency target;
    servers_for_throughput keeps up with searches_per_day; servers_to_hold_gallery fits
    the templates in memory; `servers` is the largest of the three.
    """

    gallery: float
    template_bytes: int
    batch_size: int
    gallery_bytes: float
    bytes_per_search: float
    ops_per_search: float
    seconds_memory: float
    seconds_compute: float
    seconds_per_pass: float
    seconds_per_search: float
    latency_s: float
    servers_for_latency: int
    searches_per_day: float
    bytes_per_day: float
    servers_for_throughput: int
    servers_to_hold_gallery: int
    servers: int


def search_cost(
    gallery: float,
    searches_per_day: float = DEFAULT_SEARCHES_PER_DAY,
    latency_s: float = CLAIM_LATENCY_S,
    hardware: SearchHardware | None = None,
) -> SearchCost:
    """Cost of exhaustive search: bytes read, seconds per search, servers to keep up.

    Memory-bound or compute-bound, whichever is slower: memory time is bytes read over
    bandwidth, compute time is 2 * G * elements operations (multiply and add) over the
    server's operation rate. No index or pruning: every template is compared.
    """
    gallery = check_gallery(gallery)
    hw = hardware or SearchHardware()
    if not (math.isfinite(float(searches_per_day)) and float(searches_per_day) >= 0):
        raise FaceIdError("searches_per_day", searches_per_day, "a number >= 0")
    if not (math.isfinite(float(latency_s)) and float(latency_s) > 0):
        raise FaceIdError("latency", latency_s, "a number of seconds > 0")
    k = hw.batch_size
    gallery_bytes = gallery * hw.template_bytes
    ops = 2.0 * gallery * (hw.template_bytes / hw.element_bytes)
    t_mem = gallery_bytes / hw.memory_bandwidth  # one pass, shared by the batch
    t_ops = ops / hw.compute_ops  # per probe
    t_pass = max(t_mem, k * t_ops)
    t_search = t_pass / k
    s = float(searches_per_day)
    hold = math.ceil(gallery_bytes / hw.server_memory - 1e-12)
    lat = max(math.ceil(t_pass / latency_s - 1e-12), 1)
    thr = math.ceil(s * t_search / 86400.0 - 1e-12)
    return SearchCost(
        gallery=gallery,
        template_bytes=hw.template_bytes,
        batch_size=k,
        gallery_bytes=gallery_bytes,
        bytes_per_search=gallery_bytes / k,
        ops_per_search=ops,
        seconds_memory=t_mem,
        seconds_compute=t_ops,
        seconds_per_pass=t_pass,
        seconds_per_search=t_search,
        latency_s=float(latency_s),
        servers_for_latency=lat,
        searches_per_day=s,
        bytes_per_day=s * gallery_bytes / k,
        servers_for_throughput=thr,
        servers_to_hold_gallery=hold,
        servers=max(lat, thr, hold),
    )
