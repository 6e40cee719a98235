/** Dependencies, readiness and graceful shutdown (shutdown.suite.ts) on the NestJS reference services. */
import { describeShutdown } from './shutdown.suite.js';
import { TARGET_SHARES } from './targets.js';

describeShutdown(TARGET_SHARES.nestjs);
