// HTTP status classes, the one place each is tested. Pure.

/** A success: 200–299. */
export function is2xx(status: i32): bool { return status >= 200 && status < 300; }

/** A server error: 500–599. */
export function is5xx(status: i32): bool { return status >= 500 && status < 600; }
