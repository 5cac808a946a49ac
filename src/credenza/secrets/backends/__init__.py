"""The secret stores credenza can use, one module each; each declares itself in ``BACKEND``.

A new secret store is one module here (a ``Backend`` and its ``BACKEND`` entry) and one name
below. The store (secrets/store.py) imports a module only when it tries or lists it: keyring's own
import costs about 0.1 s, which a machine on the Secret Service or the file keyring never pays.

The team store (HashiCorp Vault / OpenBao) is not one of them: see services/vault.py.
"""

# Module names, in the order the ``keyring`` setting tries them: the first available one of its setting that
# opens is used (the Secret Service before keyring's choice on Linux).
REGISTERED = ("secretservice", "oskeyring", "filekeyring", "memory")
