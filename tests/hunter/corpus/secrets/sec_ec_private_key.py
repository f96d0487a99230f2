# mypy: ignore-errors
SIGNING_KEY = """
-----BEGIN EC PRIVATE KEY-----
naglr8C8fciOTyYqp+ZythD8aCHRLVDqO+0BzJkjVLeBRsBAIhQ4NAs4hYq765Ss
QOzAH4Mx5QFpIjmqgcpLv6rv3SvKnB569m/eRq0SdXcLTajJwjTg+bum8a1Jvp8r
MbS1XPqaDN9CqL9iufGP1UpN62730exyVcl+yJAdt4xDrl+eZjiLl4OWrdv2MwED
Vk7TzmMUpXpUp9mT5P1mar8o2ztl92HOhL/MYzX4==
-----END EC PRIVATE KEY-----
"""
