"""ecrguard: Amazon ECR security labs, rules and scanners.

The public surface is small on purpose; most modules are internal. Heavy
dependencies (boto3, moto, tree-sitter) are imported lazily so that
``ecrguard --version`` starts quickly.
"""

__version__ = "0.1.0"
