"""W200 order tracking: every status change of the orders, as the spec's "order status updates" record them
(w200.order_status_log), for the orders of the caller's branches. A detail list: at a year of history it
holds over a million rows, so it is the catalog's largest export."""

from __future__ import annotations

from api.reports.definition import Column, Drill, Param, Report
from api.reports.library.w200_sales import BRANCH, DATE_FROM_30, DATE_TO
from api.reports.query import QueryContext


def _order_status_changes(ctx: QueryContext) -> str:
    branch = f" AND o.branch_code = {ctx.p('branch')}" if ctx.values.get("branch") else ""
    status = f" AND l.to_status = {ctx.p('to_status')}" if ctx.values.get("to_status") else ""
    return (
        "SELECT l.log_id, l.order_id, o.order_no, o.branch_code, l.from_status, l.to_status, l.changed_at, "
        f"l.changed_by, l.note_zh FROM {ctx.table('v_w200_order_status_log')} AS l "
        f"INNER JOIN {ctx.table('v_w200_order_master')} AS o ON o.order_id = l.order_id "
        f"WHERE toDate(l.changed_at, 'Asia/Taipei') BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"
        f"{branch}{status} ORDER BY l.changed_at, l.log_id"
    )


ORDER_STATUS_CHANGES = Report(
    id="order_status_changes", group="W200", family="sales", title_zh="訂單狀態異動", title_en="Order status changes",
    answers="Every status change of the orders in the range (order tracking): from what to what, when and by whom.",
    params=(DATE_FROM_30, DATE_TO, BRANCH,
            Param("to_status", "text", "變更後狀態", "changed to (e.g. delivered, cancelled)")),
    columns=(Column("log_id", "int", "異動編號", "change id"), Column("order_id", "int", "訂單編號", "order id"),
             Column("order_no", "text", "訂單號碼", "order no"), Column("branch_code", "text", "分公司", "branch"),
             Column("from_status", "text", "原狀態", "from"), Column("to_status", "text", "新狀態", "to"),
             Column("changed_at", "datetime", "異動時間", "changed at"),
             Column("changed_by", "int", "異動人員", "changed by (employee id)"),
             Column("note_zh", "text", "備註", "note")),
    sql=_order_status_changes, source="query_time",
    how="The current rows of w200.order_status_log changed on the range's Taipei days, with their order's number "
        "and branch.",
    max_range_days=400, drill=(Drill("order_lines", {"order_id": "order_id"}, "訂單明細", "lines"),),
    key=("log_id",),
)

REPORTS: tuple[Report, ...] = (ORDER_STATUS_CHANGES,)
