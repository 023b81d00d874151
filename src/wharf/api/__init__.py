"""HTTP only: parse the request, call one domain function, render the result."""
