"""The captured tables: one name list that the connector, the stream declarations and tests share."""

from __future__ import annotations

from typing import Final

# Schema-qualified names, grouped by legacy module, in foreign-key order.
MODULE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "W110": ("w110.branch", "w110.product_category", "w110.product_master", "w110.product_price",
             "w110.employee_role", "w110.employee_master", "w110.system_parameter"),
    "W100": ("w100.customer_master", "w100.customer_address", "w100.customer_contact"),
    "W200": ("w200.order_master", "w200.order_detail", "w200.order_status_log"),
    "W300": ("w300.inventory_master", "w300.warehouse_stock", "w300.stock_movement"),
    "W500": ("w500.invoice_header", "w500.invoice_detail", "w500.payment_record"),
    "W600": ("w600.gl_master", "w600.gl_transaction", "w600.account_balance"),
    "W700": ("w700.dispatch_master", "w700.route_detail", "w700.driver_assignment"),
}

CAPTURED_TABLES: Final[tuple[str, ...]] = tuple(t for tables in MODULE_TABLES.values() for t in tables)


def topic_for(table: str, prefix: str) -> str:
    """The Debezium topic of a schema-qualified table: `<prefix>.<schema>.<table>`."""
    return f"{prefix}.{table}"
