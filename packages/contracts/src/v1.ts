// One namespace per proto package: consumers should not need to know which .proto file declares a type.
export * from './gen/scoreline/line_provider/v1/event_service.js';
export * from './gen/scoreline/line_provider/v1/event_changed.js';
