"""The Dagster code location: every area's definitions, merged into one ``defs``.

``workspace.yaml`` points here. Each area keeps its own ``defs`` in ``intercom_pipeline/defs/``.
"""

from __future__ import annotations

import dagster as dg

from intercom_pipeline.defs import detection, discovery, exports, privacy, resources

defs = dg.Definitions.merge(
    resources.defs,
    privacy.defs,
    detection.defs,
    discovery.defs,
    exports.defs,
)
