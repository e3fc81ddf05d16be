/** The resolver classes the schema is built from, and the pub/sub they publish through. */
import { IngestFileResolver } from './file.resolver';
import { IngestResolver } from './ingest.resolver';
import { MeterResolver } from './meter.resolver';
import {
  InstantResolver,
  MeterReadingsResolver,
  TransformerReadingsResolver,
} from './readings.resolver';
import {
  FeederResolver,
  ServicePointResolver,
  SubstationResolver,
  TopologyQueryResolver,
  TransformerResolver,
} from './topology.resolver';
import { MeterVeeResolver, VeeEditResolver, VeeResolver } from './vee.resolver';
import { ViewerResolver } from './viewer.resolver';

export { InProcessPubSub, Topic } from './pubsub';

export const resolvers = [
  MeterResolver,
  MeterReadingsResolver,
  TopologyQueryResolver,
  SubstationResolver,
  FeederResolver,
  TransformerResolver,
  TransformerReadingsResolver,
  ServicePointResolver,
  InstantResolver,
  IngestResolver,
  IngestFileResolver,
  ViewerResolver,
  VeeResolver,
  VeeEditResolver,
  MeterVeeResolver,
] as const;
