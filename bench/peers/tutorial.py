"""The baseline: the FastAPI tutorial app our users start from (../shared/reference), as written there —
an in-memory dict, Pydantic models with `Field` constraints, `response_model` on every route, the same
five task routes. One change for a fair comparison: the list takes `limit` (the tutorial returns every
task, which would make the list scenario measure the size of the dict)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field


class TaskCreate(BaseModel):
    title: str = Field(..., min_length=1, max_length=200)
    description: str | None = None
    priority: int = Field(default=1, ge=1, le=5)


class TaskResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    priority: int
    created_at: datetime
    completed: bool = False


app = FastAPI(title="Task API", description="Production-ready task management REST API", version="1.0.0")

db: dict[int, dict[str, Any]] = {}
counter = 0


@app.post("/tasks", response_model=TaskResponse, status_code=status.HTTP_201_CREATED)
async def create_task(task: TaskCreate) -> dict[str, Any]:
    global counter
    counter += 1
    record = {
        "id": counter,
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "created_at": datetime.now(UTC),
        "completed": False,
    }
    db[counter] = record
    return record


@app.get("/tasks", response_model=list[TaskResponse])
async def list_tasks(limit: int = Query(default=20, ge=1, le=100)) -> list[dict[str, Any]]:
    return list(db.values())[:limit]


@app.get("/tasks/{task_id}", response_model=TaskResponse)
async def get_task(task_id: int) -> dict[str, Any]:
    if task_id not in db:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=f"Task {task_id} not found")
    return db[task_id]


@app.patch("/tasks/{task_id}/complete", response_model=TaskResponse)
async def complete_task(task_id: int) -> dict[str, Any]:
    if task_id not in db:
        raise HTTPException(status_code=404, detail="Task not found")
    db[task_id]["completed"] = True
    return db[task_id]


@app.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(task_id: int) -> None:
    if task_id not in db:
        raise HTTPException(status_code=404, detail="Task not found")
    del db[task_id]
