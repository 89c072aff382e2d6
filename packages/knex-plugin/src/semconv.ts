/** `db.system.name` (semantic conventions). */
export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
/** `db.operation.name`: the SQL verb. */
export const ATTR_DB_OPERATION_NAME = 'db.operation.name';
/** `db.collection.name`: the table. */
export const ATTR_DB_COLLECTION_NAME = 'db.collection.name';
/** `db.response.status_code`: SQLSTATE, MySQL error number or SQLite code of a failure. */
export const ATTR_DB_RESPONSE_STATUS_CODE = 'db.response.status_code';
