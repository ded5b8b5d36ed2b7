"""The leaders' view exports (placeholder: being written)."""
from flask import Blueprint

bp = Blueprint("leaders_api", __name__)
