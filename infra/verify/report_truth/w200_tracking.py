"""Truth of the W200 order-tracking report, from w200.order_status_log and w200.order_master."""

from __future__ import annotations

from infra.verify.report_truth import Truth
from infra.verify.report_truth.w200_sales import _ago

TRUTHS = {
    "order_status_changes": Truth("""
        SELECT l.log_id, l.order_id, o.order_no, o.branch_code, l.from_status, l.to_status, l.changed_at,
               l.changed_by, l.note_zh
        FROM w200.order_status_log l JOIN w200.order_master o USING (order_id)
        WHERE date(l.changed_at AT TIME ZONE 'Asia/Taipei') BETWEEN %(date_from)s AND %(date_to)s
          AND (%(branch)s::text IS NULL OR o.branch_code = %(branch)s)
          AND (%(to_status)s::text IS NULL OR l.to_status = %(to_status)s)
          AND (%(branches)s::text[] IS NULL OR o.branch_code = ANY(%(branches)s))""",
                                  ({}, {"branch": "TPE", "date_from": _ago(10)},
                                   {"to_status": "delivered", "date_from": _ago(5), "date_to": _ago(1)})),
}
