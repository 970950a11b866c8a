-- wrk script of the POST echo scenario: every request POSTs 100 KB
-- (102,400 bytes) to /echo, which sends it back. wrk adds Content-Length.
wrk.method = "POST"
wrk.path = "/echo"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("x", 102400)
