"""One APIRouter per resource; the lead assembles them into the app."""
