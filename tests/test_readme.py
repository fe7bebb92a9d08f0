import re
from pathlib import Path


def test_readme_usage_example_runs():
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert float(namespace["loss"](namespace["net"])) >= 0.0
