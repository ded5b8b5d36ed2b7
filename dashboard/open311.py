"""Open311 GeoReport v2 under /open311/v2/ (placeholder: being written)."""
from flask import Blueprint

bp = Blueprint("open311", __name__)
