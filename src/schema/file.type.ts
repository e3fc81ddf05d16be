/** Landed head-end files: status, counts and the first rejections, for operators and head-ends. */
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CommPathEnum } from './enums';
import { PageInfo } from './paging';

export enum FileStatusEnum {
  RECEIVED = 'received',
  PROCESSING = 'processing',
  DONE = 'done',
  FAILED = 'failed',
}
registerEnumType(FileStatusEnum, {
  name: 'FileStatus',
  description: 'received → processing → done, or failed (structural error or dead-lettered chunk).',
});

export enum FileFormatEnum {
  CSV = 'csv',
  CMEP = 'cmep',
  ESPI = 'espi',
}
registerEnumType(FileFormatEnum, { name: 'FileFormat' });

@ObjectType({ description: 'A row or record of a file that was not stored, and why.' })
export class IngestRejection {
  @Field(() => Float, { description: 'Line number (CSV, CMEP) or IntervalReading ordinal (ESPI).' })
  position!: number;

  @Field()
  code!: string;

  @Field()
  message!: string;

  @Field(() => String, { nullable: true })
  meterSerial!: string | null;
}

@ObjectType({ description: 'A file or batch received from a head-end system.' })
export class IngestFile {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Hex SHA-256 of the content: the same content again is a duplicate.' })
  sha256!: string;

  @Field()
  source!: string;

  @Field(() => String, { nullable: true })
  sourceSystem!: string | null;

  @Field(() => CommPathEnum, { nullable: true })
  commPath!: string | null;

  @Field(() => FileFormatEnum)
  format!: string;

  @Field(() => String, { nullable: true })
  fileName!: string | null;

  @Field(() => Float)
  sizeBytes!: number;

  @Field()
  receivedAt!: Date;

  @Field(() => FileStatusEnum)
  status!: string;

  @Field(() => Int, { nullable: true, description: 'Chunks the file was split into.' })
  chunksTotal!: number | null;

  @Field(() => Int)
  chunksDone!: number;

  @Field(() => Float, {
    nullable: true,
    description:
      'Readings parsed from the file: known at the landing for a file parsed there, once processed for CSV, CMEP and ESPI (whose stored parts the workers parse).',
  })
  itemsTotal!: number | null;

  @Field(() => Float, { description: 'New intervals stored.' })
  accepted!: number;

  @Field(() => Float, { description: 'Identical to what was stored: nothing changed.' })
  unchanged!: number;

  @Field(() => Float, { description: 'Different from what was stored: new version, old kept.' })
  changed!: number;

  @Field(() => Float)
  rejected!: number;

  @Field(() => String, { nullable: true })
  errorCode!: string | null;

  @Field(() => String, { nullable: true })
  errorMessage!: string | null;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => [IngestRejection], {
    description: 'The first rejections, by position (at most `first`, up to 1,000 are kept).',
  })
  rejections!: IngestRejection[];
}

@InputType()
export class IngestFileFilter {
  @Field(() => [FileStatusEnum], { nullable: true })
  status?: string[] | null;

  @Field(() => [FileFormatEnum], { nullable: true })
  format?: string[] | null;

  @Field(() => String, { nullable: true })
  source?: string | null;

  @Field(() => Date, { nullable: true })
  receivedFrom?: Date | null;

  @Field(() => Date, { nullable: true })
  receivedTo?: Date | null;
}

@ObjectType()
export class IngestFileConnection {
  @Field(() => [IngestFile])
  nodes!: IngestFile[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType({ description: 'A named CSV mapping profile.' })
export class CsvProfileEntry {
  @Field()
  name!: string;

  @Field(() => GraphQLJSONObject)
  profile!: unknown;

  @Field()
  updatedAt!: Date;
}
