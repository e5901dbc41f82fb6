"""smsapi is its own layer: it imports the standard library, requests and orjson only (pyarrow in the opt-in
`smsapi.columnar`, which `import smsapi` does not load)."""
import subprocess
import sys


def test_importing_smsapi_pulls_in_neither_pandas_numpy_nor_prefect():
    code = ("import sys, smsapi; bad = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'pandas', 'numpy', 'prefect', 'pyarrow', 'duckdb'}); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
