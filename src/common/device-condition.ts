/**
 * A condition on a device, in SQL, that one module hands to another's query: the module that
 * owns the table the condition reads writes the SQL (device-identity: "its certificates all
 * expire before T"), the module that runs the query (enrollments: a device or enrollment list)
 * places it, with the column that holds the device id. Neither imports the other.
 */
export interface DeviceCondition {
  /** A boolean SQL expression on the device id column given (TypeORM `:name` parameters). */
  sql(deviceIdColumn: string): string;
  readonly params: Readonly<Record<string, unknown>>;
}
