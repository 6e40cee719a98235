/** The part of `pg` the service uses (the package ships no types; `@types/pg` is not a dependency). */
declare module 'pg' {
  interface PoolConfig {
    connectionString?: string;
    max?: number;
    connectionTimeoutMillis?: number;
  }
  class Pool {
    constructor(config?: PoolConfig);
    query(text: string): Promise<unknown>;
    end(): Promise<void>;
    on(event: 'error', listener: (err: Error) => void): this;
  }
  const pg: { Pool: typeof Pool };
  export default pg;
}
