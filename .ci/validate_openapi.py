"""Validates an OpenAPI document with openapi-spec-validator (independent of duxue's Rust code)."""
import sys

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

path = sys.argv[1]
spec, _ = read_from_filename(path)
validate(spec)
print(f"{path}: valid OpenAPI {spec.get('openapi')} with {sum(len([m for m in item if m in ('get','post','put','delete','patch')]) for item in spec['paths'].values())} operations")
