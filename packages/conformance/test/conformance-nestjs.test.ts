/** The HTTP contract (conformance.suite.ts) on the NestJS reference services. */
import { describeConformance } from './conformance.suite.js';
import { TARGET_SHARES } from './targets.js';

describeConformance(TARGET_SHARES.nestjs);
