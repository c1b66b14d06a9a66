-- wrk script: POST /checkout with a valid order.
wrk.method = "POST"
wrk.body = '{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":2},{"sku":"SKU-1003","quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
