"""mediahub: public and private S3 media for Django."""

__version__ = "0.1.0.dev0"
