"""Which row model and primary key belong to each captured table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel

from schemas.tables import w100, w110, w200, w300, w500, w600, w700


@dataclass(frozen=True)
class TableSpec:
    """A captured table: its schema-qualified name, row model and primary-key columns."""

    name: str
    model: type[BaseModel]
    primary_key: tuple[str, ...]
    # The column giving the row's business date (a date or an instant), when it has one: current-state
    # tables are partitioned by its month.
    business_date: str | None = None

    @property
    def module(self) -> str:
        """The legacy module code, e.g. "W200" for w200.order_master."""
        return self.name.split(".", 1)[0].upper()


_SPECS: Final[tuple[TableSpec, ...]] = (
    TableSpec("w110.branch", w110.Branch, ("branch_code",)),
    TableSpec("w110.product_category", w110.ProductCategory, ("category_id",)),
    TableSpec("w110.product_master", w110.ProductMaster, ("product_id",)),
    TableSpec("w110.product_price", w110.ProductPrice, ("price_id",)),
    TableSpec("w110.employee_role", w110.EmployeeRole, ("role_id",)),
    TableSpec("w110.employee_master", w110.EmployeeMaster, ("employee_id",)),
    TableSpec("w110.system_parameter", w110.SystemParameter, ("param_key",)),
    TableSpec("w100.customer_master", w100.CustomerMaster, ("customer_id",)),
    TableSpec("w100.customer_address", w100.CustomerAddress, ("address_id",)),
    TableSpec("w100.customer_contact", w100.CustomerContact, ("contact_id",)),
    TableSpec("w200.order_master", w200.OrderMaster, ("order_id",), "ordered_at"),
    TableSpec("w200.order_detail", w200.OrderDetail, ("detail_id",)),
    TableSpec("w200.order_status_log", w200.OrderStatusLog, ("log_id",), "changed_at"),
    TableSpec("w300.inventory_master", w300.InventoryMaster, ("product_id",)),
    TableSpec("w300.warehouse_stock", w300.WarehouseStock, ("stock_id",)),
    TableSpec("w300.stock_movement", w300.StockMovement, ("movement_id",), "moved_at"),
    TableSpec("w500.invoice_header", w500.InvoiceHeader, ("invoice_id",), "invoice_date"),
    TableSpec("w500.invoice_detail", w500.InvoiceDetail, ("detail_id",)),
    TableSpec("w500.payment_record", w500.PaymentRecord, ("payment_id",), "payment_date"),
    TableSpec("w600.gl_master", w600.GlMaster, ("account_code",)),
    TableSpec("w600.gl_transaction", w600.GlTransaction, ("txn_id",), "posting_date"),
    TableSpec("w600.account_balance", w600.AccountBalance, ("balance_id",)),
    TableSpec("w700.dispatch_master", w700.DispatchMaster, ("dispatch_id",), "dispatch_date"),
    TableSpec("w700.route_detail", w700.RouteDetail, ("route_stop_id",), "planned_arrival"),
    TableSpec("w700.driver_assignment", w700.DriverAssignment, ("assignment_id",), "shift_start"),
)

TABLES: Final[dict[str, TableSpec]] = {spec.name: spec for spec in _SPECS}


def table_spec(table: str) -> TableSpec:
    """The spec of a schema-qualified table; KeyError if it is not captured."""
    return TABLES[table]
