"""Plain functions behind the views: callable without a request."""
