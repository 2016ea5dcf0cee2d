"""Persistence: the safe file format (tensors plus JSON, loaded without unpickling).

- :mod:`.safe_format`: :func:`~sklearn_sain.save` and :func:`~sklearn_sain.load`,
  and the fitted state of a pickle as the bytes of such a file;
- :mod:`.safe_file`: atomic writes, archive checks and the digest;
- :mod:`.param_json`: estimator parameters as JSON;
- :mod:`.persistable`: the registry of the estimator classes the format holds
  and the protocol they follow (each estimator writes its own state).
"""
